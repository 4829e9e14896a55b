// The buffer path's row kernels of DwconvNhwcAvx512 (the driver is dwconv_nhwc_avx512.cpp, what
// they share with it dwconv_nhwc_impl.hpp): the register-tiled fast kernels for kw <= 13 at stride
// 1 or 2, the generic kernel for everything else, and how a desc picks its kernel and tile width.
// Their own file so the driver reads as the driver; the driver reaches them only through the
// RowKernel that pick_kernel returns.
#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/cpu/dwconv_nhwc_impl.hpp"

namespace hwnas::cpu::dwconv_detail {
namespace {

// Widths (output pixels) of a register tile. 14 and 7 divide the stage widths of 224-pixel inputs
// (56, 28, 14, 7) exactly, 16, 12 and 8 those of 256- and 384-pixel inputs, 4 the 4x4 output of a
// stride-2 7x7 stage. The cheapest is picked per desc (pick_tile_width).
constexpr std::array<int, 6> kTileWidths = {16, 14, 12, 8, 7, 4};
// The register-resident fast path holds kw weight vectors, T accumulators and one input vector:
// kw + T + 1 <= 30 of the 32 zmm registers for kw <= 13 and T <= 16.
constexpr int kMaxFastKw = 13;

// act, then one masked store per valid pixel. The per-pixel test runs T times per tile, against
// T*kh*kw FMAs, and only the last tile of a row has invalid pixels.
template <int T>
[[gnu::target("avx512f"), gnu::always_inline]] inline void store_tile(const RowArgs& a,
                                                                      std::int64_t ox0,
                                                                      __m512 (&acc)[T]) noexcept {
  if (a.relu) {
    // The all-ones masked form, because _mm512_max_ps's _mm512_undefined_ps() trips GCC 12's
    // -Wmaybe-uninitialized; it is the same instruction.
    const auto all = static_cast<__mmask16>(0xFFFF);
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) acc[t] = _mm512_maskz_max_ps(all, acc[t], _mm512_setzero_ps());
  }
  float* out = a.out + ox0 * a.out_step;
  const std::int64_t valid = std::min<std::int64_t>(T, a.ow - ox0);
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    if (t < valid) _mm512_mask_storeu_ps(out + t * a.out_step, a.channel_mask, acc[t]);
  }
}

// The fast path, for dilation 1 and stride S in {1, 2}. One tap row (fixed ky) of a tile of T
// output pixels reads the input columns j = 0 .. (T-1)*S + KW - 1; column j feeds output t through
// tap kx = j - t*S. So each input vector is loaded once and used by every tap that needs it, with
// the KW weight vectors of the row held in registers:
//   FMAs per tap row  = T * KW
//   loads per tap row = (T-1)*S + KW inputs + KW weights
// kw=7, S=1, T=14: 98 FMAs / 27 loads = 3.6 FMAs per load; S=2: 98 / 40 = 2.5; kw=3, T=16:
// 48 / 21 = 2.3. Two FMA pipes and two 512-bit load ports per core, so the loop is FMA-bound for
// kw >= 3 (kw=1 has no reuse to exploit: T FMAs / T+1 loads). Everything below is unrolled at
// compile time, so `acc` and `wv` stay in registers: T + KW + 1 <= 30 zmm. Checked in GCC 12's
// output (objdump of the ky loop): kw=7 S=1 T=14: 98 vfmadd231ps, 27 loads, no zmm spills;
// kw=5 T=14: 70 / 23; kw=13 T=16: 208 / 42. Measured: 394 GFLOP/s at 56x56x96 k7 with 2 threads,
// 81 % of the 485 GFLOP/s FMA peak.
template <int KW, int S, int T, int J, int... KX>
[[gnu::target("avx512f"), gnu::always_inline]] inline void fma_column(
    const float* in, const __m512 (&wv)[KW], __m512 (&acc)[T],
    std::integer_sequence<int, KX...>) noexcept {
  __m512 x = _mm512_load_ps(in + J * kLanes);
  if constexpr (column_uses<KW, S, T, J>() > 1) {
    // Left alone, GCC 12 folds the load into every FMA that uses x (a memory operand each), which
    // for kw=3 turns 45 loads into 42 FMAs. The empty asm pins x in a register: one load,
    // many FMAs.
    asm("" : "+v"(x));
  }
  (fma_tap<KW, S, T, J, KX>(x, wv, acc), ...);
}

template <int KW, int S, int T, int... J>
[[gnu::target("avx512f"), gnu::always_inline]] inline void fma_tap_row(
    const float* in, const __m512 (&wv)[KW], __m512 (&acc)[T],
    std::integer_sequence<int, J...>) noexcept {
  (fma_column<KW, S, T, J>(in, wv, acc, std::make_integer_sequence<int, KW>{}), ...);
}

template <int KW, int S, int T>
[[gnu::target("avx512f")]] void row_fast(const RowArgs& a) noexcept {
  constexpr int kColumns = (T - 1) * S + KW;
  const __m512 bias = _mm512_load_ps(a.bias);
  for (std::int64_t tile = 0; tile < a.tiles; ++tile) {
    const std::int64_t ox0 = tile * T;
    __m512 acc[T];
    init_tile<T>(acc, bias);
    const float* in = a.in + ox0 * S * kLanes;
    const float* w = a.weights;
    for (std::int64_t ky = 0; ky < a.ky_count; ++ky, in += a.in_ky_step, w += a.w_ky_step) {
      __m512 wv[KW];
#pragma GCC unroll 16
      for (int kx = 0; kx < KW; ++kx) wv[kx] = _mm512_load_ps(w + kx * a.w_kx_step);
      fma_tap_row<KW, S, T>(in, wv, acc, std::make_integer_sequence<int, kColumns>{});
    }
    store_tile<T>(a, ox0, acc);
  }
}

// The generic path: any kw, stride and dilation. Each tap's weight vector is loaded once and
// multiplied into the T accumulators, the input as the FMA's memory operand: T FMAs per T + 1
// loads. Slower than row_fast, and used only where it cannot run (dilation > 1, stride > 2,
// kw > 13).
template <int T>
[[gnu::target("avx512f")]] void row_generic(const RowArgs& a) noexcept {
  const __m512 bias = _mm512_load_ps(a.bias);
  const std::int64_t pixel_step = a.stride_w * kLanes;
  const std::int64_t tap_step = a.dilation_w * kLanes;
  for (std::int64_t tile = 0; tile < a.tiles; ++tile) {
    const std::int64_t ox0 = tile * T;
    __m512 acc[T];
    init_tile<T>(acc, bias);
    const float* in_row = a.in + ox0 * pixel_step;
    const float* w_row = a.weights;
    for (std::int64_t ky = 0; ky < a.ky_count; ++ky, in_row += a.in_ky_step, w_row += a.w_ky_step) {
      for (std::int64_t kx = 0; kx < a.kw; ++kx) {
        const __m512 wv = _mm512_load_ps(w_row + kx * a.w_kx_step);
        const float* in = in_row + kx * tap_step;
#pragma GCC unroll 16
        for (int t = 0; t < T; ++t) {
          acc[t] = _mm512_fmadd_ps(_mm512_load_ps(in + t * pixel_step), wv, acc[t]);
        }
      }
    }
    store_tile<T>(a, ox0, acc);
  }
}

template <int S, int T, std::size_t... I>
constexpr std::array<RowKernel, sizeof...(I)> fast_kernels(std::index_sequence<I...>) {
  return {&row_fast<static_cast<int>(I) + 1, S, T>...};
}

template <int S, int T>
constexpr std::array<RowKernel, kMaxFastKw> kFastKernels =
    fast_kernels<S, T>(std::make_index_sequence<kMaxFastKw>{});

bool has_fast_kernel(const Conv2dDesc& d) {
  const bool unit_spacing = d.dilation_w == 1 || phases_of(d) > 1;
  return unit_spacing && (d.stride_w == 1 || d.stride_w == 2) && d.kw <= kMaxFastKw;
}

}  // namespace

// A stride-1 row with dilation D splits into D interleaved undilated rows: output columns
// ox = D*m + r read padded input columns D*(m + kx) + r, i.e. phase r of the input with unit
// spacing. Storing each phase's columns contiguously in the row buffer (copy_row in the driver)
// lets the register-resident row_fast run a dilated conv at the speed of a dense one; without it
// the generic path does T FMAs per T + 1 loads (measured 2.3x slower at 7x7 dilation 3).
std::int64_t phases_of(const Conv2dDesc& d) { return d.stride_w == 1 ? d.dilation_w : 1; }

RowKernel pick_kernel(const Conv2dDesc& d, int tile) {
  if (!has_fast_kernel(d)) {
    switch (tile) {
      case 16:
        return &row_generic<16>;
      case 14:
        return &row_generic<14>;
      case 12:
        return &row_generic<12>;
      case 8:
        return &row_generic<8>;
      case 7:
        return &row_generic<7>;
      default:
        return &row_generic<4>;
    }
  }
  const auto kw = static_cast<std::size_t>(d.kw - 1);
  const bool s1 = d.stride_w == 1;
  switch (tile) {
    case 16:
      return s1 ? kFastKernels<1, 16>[kw] : kFastKernels<2, 16>[kw];
    case 14:
      return s1 ? kFastKernels<1, 14>[kw] : kFastKernels<2, 14>[kw];
    case 12:
      return s1 ? kFastKernels<1, 12>[kw] : kFastKernels<2, 12>[kw];
    case 8:
      return s1 ? kFastKernels<1, 8>[kw] : kFastKernels<2, 8>[kw];
    case 7:
      return s1 ? kFastKernels<1, 7>[kw] : kFastKernels<2, 7>[kw];
    default:
      return s1 ? kFastKernels<1, 4>[kw] : kFastKernels<2, 4>[kw];
  }
}

// Instruction count of one output row with tile width T: FMAs (wasted ones past ow included), input
// and weight loads, stores. The smallest wins; ties go to the wider tile, listed first.
int pick_tile_width(const Conv2dDesc& d, std::int64_t ow) {
  int best = kTileWidths[0];
  std::int64_t best_cost = -1;
  for (const int t : kTileWidths) {
    const std::int64_t tiles = ceil_div(ow, t);
    const std::int64_t per_tap_row = t * d.kw + 2 * d.kw + (t - 1) * d.stride_w;
    const std::int64_t cost = tiles * (d.kh * per_tap_row + 2 * t);
    if (best_cost < 0 || cost < best_cost) {
      best = t;
      best_cost = cost;
    }
  }
  return best;
}

}  // namespace hwnas::cpu::dwconv_detail
