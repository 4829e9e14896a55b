#include "kernels/cpu/dwconv_nhwc_avx512.hpp"

#include <fmt/format.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>

#include "kernels/assert.hpp"

namespace hwnas::cpu {
namespace {

constexpr int kLanes = 16;  // f32 lanes of one zmm register: one channel block
// Widths (output pixels) of a register tile. 14 and 7 divide the stage widths of 224-pixel inputs
// (56, 28, 14, 7) exactly, 16, 12 and 8 those of 256- and 384-pixel inputs, 4 the 4x4 output of a
// stride-2 7x7 stage. The cheapest is picked per desc (pick_tile_width).
constexpr std::array<int, 6> kTileWidths = {16, 14, 12, 8, 7, 4};
// The register-resident fast path holds kw weight vectors, T accumulators and one input vector:
// kw + T + 1 <= 30 of the 32 zmm registers for kw <= 13 and T <= 16.
constexpr int kMaxFastKw = 13;
// A task's input-row buffer is capped so it stays in L2; only kh rows of it are hot at any time.
constexpr std::int64_t kMaxBufferBytes = std::int64_t{512} << 10;
// At least this many tasks per thread, so a static schedule stays balanced.
constexpr std::int64_t kMinTasksPerThread = 4;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// What a row kernel needs to compute one output row of one 16-channel block. `in` points at buffer
// column 0 of the input row of the first tap that lands inside the image (rows in the vertical padding
// are skipped, not multiplied by zero); buffer column x + pad_w holds input column x, and every other
// column is zero, so the kernels never test a border.
struct RowArgs {
  const float* in;
  std::int64_t in_ky_step;  // floats from the buffer row of tap ky to that of tap ky + 1
  const float* weights;     // [kh][kw][cp] at (first tap, kx = 0, this block)
  std::int64_t w_ky_step;   // kw * cp
  std::int64_t w_kx_step;   // cp
  std::int64_t ky_count;    // taps of this output row inside the image; 0 leaves act(bias)
  const float* bias;        // 16 floats, zero when the desc has no bias
  float* out;               // dst pixel (oy, ox = 0) of this block
  std::int64_t out_step;    // c: floats between neighbouring output pixels
  std::int64_t ow;
  std::int64_t tiles;       // ceil(ow / T); the last tile computes past ow into zero buffer columns
  __mmask16 channel_mask;   // lanes < c - 16*block; only stores are masked
  bool relu;
  std::int64_t kw, stride_w, dilation_w;  // read by the generic kernel; the fast ones have them as templates
};
using RowKernel = void (*)(const RowArgs&) noexcept;

template <int T>
[[gnu::target("avx512f"), gnu::always_inline]] inline void init_tile(__m512 (&acc)[T], __m512 bias) noexcept {
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = bias;
}

// act, then one masked store per valid pixel. The per-pixel test runs T times per tile, against
// T*kh*kw FMAs, and only the last tile of a row has invalid pixels.
template <int T>
[[gnu::target("avx512f"), gnu::always_inline]] inline void store_tile(const RowArgs& a, std::int64_t ox0,
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

// The fast path, for dilation 1 and stride S in {1, 2}. One tap row (fixed ky) of a tile of T output
// pixels reads the input columns j = 0 .. (T-1)*S + KW - 1; column j feeds output t through tap
// kx = j - t*S. So each input vector is loaded once and used by every tap that needs it, with the KW
// weight vectors of the row held in registers:
//   FMAs per tap row  = T * KW
//   loads per tap row = (T-1)*S + KW inputs + KW weights
// kw=7, S=1, T=14: 98 FMAs / 27 loads = 3.6 FMAs per load; S=2: 98 / 40 = 2.5; kw=3, T=16: 48 / 21 =
// 2.3. Two FMA pipes and two 512-bit load ports per core, so the loop is FMA-bound for kw >= 3 (kw=1 has
// no reuse to exploit: T FMAs / T+1 loads). Everything below is unrolled at compile time, so `acc` and
// `wv` stay in registers: T + KW + 1 <= 30 zmm. Checked in GCC 12's output (objdump of the ky loop):
// kw=7 S=1 T=14: 98 vfmadd231ps, 27 loads, no zmm spills; kw=5 T=14: 70 / 23; kw=13 T=16: 208 / 42.
// Measured: 394 GFLOP/s at 56x56x96 k7 with 2 threads, 81 % of the 485 GFLOP/s FMA peak.
template <int KW, int S, int T, int J, int KX>
[[gnu::target("avx512f"), gnu::always_inline]] inline void fma_tap(__m512 x, const __m512 (&wv)[KW],
                                                                  __m512 (&acc)[T]) noexcept {
  constexpr int kOffset = J - KX;  // t*S of the output pixel this tap of column J feeds
  if constexpr (kOffset >= 0 && kOffset % S == 0 && kOffset / S < T) {
    acc[kOffset / S] = _mm512_fmadd_ps(x, wv[KX], acc[kOffset / S]);
  }
}

// How many taps of a tap row read input column J.
template <int KW, int S, int T, int J>
constexpr int column_uses() {
  int uses = 0;
  for (int kx = 0; kx < KW; ++kx) {
    const int offset = J - kx;
    if (offset >= 0 && offset % S == 0 && offset / S < T) ++uses;
  }
  return uses;
}

template <int KW, int S, int T, int J, int... KX>
[[gnu::target("avx512f"), gnu::always_inline]] inline void fma_column(const float* in, const __m512 (&wv)[KW],
                                                                     __m512 (&acc)[T],
                                                                     std::integer_sequence<int, KX...>) noexcept {
  __m512 x = _mm512_load_ps(in + J * kLanes);
  if constexpr (column_uses<KW, S, T, J>() > 1) {
    // Left alone, GCC 12 folds the load into every FMA that uses x (a memory operand each), which
    // for kw=3 turns 45 loads into 42 FMAs. The empty asm pins x in a register: one load, many FMAs.
    asm("" : "+v"(x));
  }
  (fma_tap<KW, S, T, J, KX>(x, wv, acc), ...);
}

template <int KW, int S, int T, int... J>
[[gnu::target("avx512f"), gnu::always_inline]] inline void fma_tap_row(const float* in, const __m512 (&wv)[KW],
                                                                      __m512 (&acc)[T],
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

// The generic path: any kw, stride and dilation. Each tap's weight vector is loaded once and multiplied
// into the T accumulators, the input as the FMA's memory operand: T FMAs per T + 1 loads. Slower than
// row_fast, and used only where it cannot run (dilation > 1, stride > 2, kw > 13).
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
        for (int t = 0; t < T; ++t) acc[t] = _mm512_fmadd_ps(_mm512_load_ps(in + t * pixel_step), wv, acc[t]);
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

// A stride-1 row with dilation D splits into D interleaved undilated rows: output columns
// ox = D*m + r read padded input columns D*(m + kx) + r, i.e. phase r of the input with unit
// spacing. Storing each phase's columns contiguously in the row buffer (copy_row) lets the
// register-resident row_fast run a dilated conv at the speed of a dense one; without it the generic
// path does T FMAs per T + 1 loads (measured 2.3x slower at 7x7 dilation 3).
std::int64_t phases_of(const Conv2dDesc& d) { return d.stride_w == 1 ? d.dilation_w : 1; }

bool has_fast_kernel(const Conv2dDesc& d) {
  const bool unit_spacing = d.dilation_w == 1 || phases_of(d) > 1;
  return unit_spacing && (d.stride_w == 1 || d.stride_w == 2) && d.kw <= kMaxFastKw;
}

RowKernel pick_kernel(const Conv2dDesc& d, int tile) {
  if (!has_fast_kernel(d)) {
    switch (tile) {
      case 16: return &row_generic<16>;
      case 14: return &row_generic<14>;
      case 12: return &row_generic<12>;
      case 8: return &row_generic<8>;
      case 7: return &row_generic<7>;
      default: return &row_generic<4>;
    }
  }
  const auto kw = static_cast<std::size_t>(d.kw - 1);
  const bool s1 = d.stride_w == 1;
  switch (tile) {
    case 16: return s1 ? kFastKernels<1, 16>[kw] : kFastKernels<2, 16>[kw];
    case 14: return s1 ? kFastKernels<1, 14>[kw] : kFastKernels<2, 14>[kw];
    case 12: return s1 ? kFastKernels<1, 12>[kw] : kFastKernels<2, 12>[kw];
    case 8: return s1 ? kFastKernels<1, 8>[kw] : kFastKernels<2, 8>[kw];
    case 7: return s1 ? kFastKernels<1, 7>[kw] : kFastKernels<2, 7>[kw];
    default: return s1 ? kFastKernels<1, 4>[kw] : kFastKernels<2, 4>[kw];
  }
}

// Instruction count of one output row with tile width T: FMAs (wasted ones past ow included), input and
// weight loads, stores. The smallest wins; ties go to the wider tile, listed first.
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

// The direct path: k = 3 or 5 (square), stride 1, no dilation, and a pixel stride of at most 96
// floats or an image at most 7 wide (where create() sends it, and why, is said there). It reads src
// in place instead of copying rows into the buffer, and computes two output rows per pass.
struct DirectArgs {
  const float* in;        // src at (the row of the first tap, column 0, this block)
  std::int64_t in_row;    // floats between src rows
  std::int64_t in_px;     // floats between src pixels
  std::int64_t in_x0;     // -pad_w: the src column of tap kx = 0 of output column 0
  std::int64_t in_w;      // w: columns outside [0, w) are zero
  __mmask16 mask;         // lanes < c - 16*block: loaded (the others read as zero) and stored
  const float* weights;   // [kh][kw][cp] at (the first tap, kx = 0, this block)
  std::int64_t w_row;     // kw * cp
  std::int64_t w_px;      // cp
  std::int64_t ky_count;  // one-row kernel: taps inside the image; 0 leaves act(bias)
  const float* bias;      // 16 floats
  float* out;             // dst at (this row, column 0, this block)
  std::int64_t out_row;   // floats between dst rows
  std::int64_t out_px;    // floats between dst pixels
  std::int64_t ow;        // output columns
  std::int64_t tiles;     // ceil(ow / T)
  bool relu;
};
using DirectKernel = void (*)(const DirectArgs&) noexcept;

// Per column j of a tile whose first src column is x0: the load mask, zero where x0 + j is outside
// the image. Computed once per tile and read by each input row (one kmov per column, where
// recomputing it took four instructions).
template <int N>
void column_masks(const DirectArgs& a, std::int64_t x0, __mmask16 (&masks)[N]) noexcept {
  for (int j = 0; j < N; ++j) {
    masks[j] = x0 + j >= 0 && x0 + j < a.in_w ? a.mask : static_cast<__mmask16>(0);
  }
}

// The tile's first column as an address. Integer arithmetic: at a border x0 < 0, and the masked
// loads never touch the columns outside the image.
inline const float* column_address(const DirectArgs& a, std::int64_t x0) noexcept {
  return reinterpret_cast<const float*>(reinterpret_cast<std::uintptr_t>(a.in) +
                                        static_cast<std::uintptr_t>(x0 * a.in_px * 4));
}

template <bool kMasked, int J>
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 load_column(
    const float* p, const __mmask16* masks) noexcept {
  if constexpr (kMasked) {
    return _mm512_maskz_loadu_ps(masks[J], p);
  } else {
    return _mm512_loadu_ps(p);
  }
}

// act, then the stores: a tile inside the row without a test per pixel, the last one with it.
template <int T>
[[gnu::target("avx512f"), gnu::always_inline]] inline void store_tile_direct(
    const DirectArgs& a, float* out, std::int64_t px, std::int64_t ox0, __m512 (&acc)[T]) noexcept {
  if (a.relu) {
    const auto all = static_cast<__mmask16>(0xFFFF);  // as in store_tile
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) acc[t] = _mm512_maskz_max_ps(all, acc[t], _mm512_setzero_ps());
  }
  out += ox0 * px;
  if (ox0 + T <= a.ow) {
#pragma GCC unroll 16
    for (int t = 0; t < T; ++t) _mm512_mask_storeu_ps(out + t * px, a.mask, acc[t]);
    return;
  }
  const std::int64_t valid = a.ow - ox0;
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) {
    if (t < valid) _mm512_mask_storeu_ps(out + t * px, a.mask, acc[t]);
  }
}

// One output row (a row whose taps reach into the vertical padding, or the last of an odd count),
// as row_fast with S = 1: a.in is the src row of the first tap inside the image.
template <int K, int T, bool kMasked, int J, int... KX>
[[gnu::target("avx512f"), gnu::always_inline]] inline void fma_column1(
    const float* in, std::int64_t px, const __mmask16* masks, const __m512 (&wv)[K],
    __m512 (&acc)[T], std::integer_sequence<int, KX...>) noexcept {
  __m512 x = load_column<kMasked, J>(in + J * px, masks);
  if constexpr (column_uses<K, 1, T, J>() > 1) asm("" : "+v"(x));  // as in fma_column
  (fma_tap<K, 1, T, J, KX>(x, wv, acc), ...);
}

template <int K, int T, bool kMasked, int... J>
[[gnu::target("avx512f"), gnu::always_inline]] inline void fma_row1(
    const float* in, std::int64_t px, const __mmask16* masks, const __m512 (&wv)[K],
    __m512 (&acc)[T], std::integer_sequence<int, J...>) noexcept {
  (fma_column1<K, T, kMasked, J>(in, px, masks, wv, acc, std::make_integer_sequence<int, K>{}),
   ...);
}

template <int K, int T, bool kMasked>
[[gnu::target("avx512f"), gnu::always_inline]] inline void tile1(const DirectArgs& a,
                                                                 std::int64_t ox0, std::int64_t x0,
                                                                 __m512 bias) noexcept {
  constexpr int kColumns = T - 1 + K;
  __mmask16 masks[kColumns];
  if constexpr (kMasked) column_masks(a, x0, masks);
  __m512 acc[T];
  init_tile<T>(acc, bias);
  const float* in = column_address(a, x0);
  const float* w = a.weights;
  for (std::int64_t ky = 0; ky < a.ky_count; ++ky, in += a.in_row, w += a.w_row) {
    __m512 wv[K];
#pragma GCC unroll 16
    for (int kx = 0; kx < K; ++kx) wv[kx] = _mm512_load_ps(w + kx * a.w_px);
    fma_row1<K, T, kMasked>(in, a.in_px, masks, wv, acc,
                            std::make_integer_sequence<int, kColumns>{});
  }
  store_tile_direct<T>(a, a.out, a.out_px, ox0, acc);
}

template <int K, int T>
[[gnu::target("avx512f")]] void row1_direct(const DirectArgs& a) noexcept {
  constexpr int kColumns = T - 1 + K;
  const __m512 bias = _mm512_load_ps(a.bias);
  const bool full = a.mask == static_cast<__mmask16>(0xFFFF);
  for (std::int64_t tile = 0; tile < a.tiles; ++tile) {
    const std::int64_t x0 = a.in_x0 + tile * T;
    if (full && x0 >= 0 && x0 + kColumns <= a.in_w) {
      tile1<K, T, false>(a, tile * T, x0, bias);
    } else {
      tile1<K, T, true>(a, tile * T, x0, bias);
    }
  }
}

// Two output rows per pass (rows oy and oy + 1, all K taps of both inside the image): input row
// r = 0 .. K feeds row oy through tap ky = r and row oy + 1 through ky = r - 1, so each input
// vector loaded feeds both rows. Per tile: K + 1 input rows of T - 1 + K loads for 2*T*K*K FMAs,
// where two one-row passes load 2K rows (k=3, T=8: 40 loads for 144 FMAs, against 48 for 126 at
// T=14 in one row). Registers: 2T accumulators, the weights of two tap rows (2K) and the input
// vector: T = 8 takes 23 zmm at k=3, 27 at k=5.
template <int K, int T, bool kMasked, int J>
[[gnu::target("avx512f"), gnu::always_inline]] inline void fma_column2(
    const float* in, std::int64_t px, const __mmask16* masks, const __m512 (&w0)[K],
    const __m512 (&w1)[K], __m512 (&acc0)[T], __m512 (&acc1)[T], bool row0, bool row1) noexcept {
  __m512 x = load_column<kMasked, J>(in + J * px, masks);
  asm("" : "+v"(x));  // as in fma_column
#pragma GCC unroll 16
  for (int kx = 0; kx < K; ++kx) {
    const int t = J - kx;
    if (t >= 0 && t < T) {
      if (row0) acc0[t] = _mm512_fmadd_ps(x, w0[kx], acc0[t]);
      if (row1) acc1[t] = _mm512_fmadd_ps(x, w1[kx], acc1[t]);
    }
  }
}

template <int K, int T, bool kMasked, int R, int... J>
[[gnu::target("avx512f"), gnu::always_inline]] inline void input_row2(
    const DirectArgs& a, const float* in, std::int64_t px, const __mmask16* masks,
    __m512 (&wv)[K][K], __m512 (&acc0)[T], __m512 (&acc1)[T],
    std::integer_sequence<int, J...>) noexcept {
  constexpr int kCur = R < K ? R : K - 1;   // row oy's tap
  constexpr int kPrev = R > 0 ? R - 1 : 0;  // row oy + 1's tap
  if constexpr (R < K) {
#pragma GCC unroll 16
    for (int kx = 0; kx < K; ++kx) {
      wv[R][kx] = _mm512_load_ps(a.weights + R * a.w_row + kx * a.w_px);
    }
  }
  constexpr bool kRow0 = (R < K);  // input row R feeds row oy
  constexpr bool kRow1 = (R > 0);  // and row oy + 1
  (fma_column2<K, T, kMasked, J>(in + R * a.in_row, px, masks, wv[kCur], wv[kPrev], acc0, acc1,
                                 kRow0, kRow1),
   ...);
}

template <int K, int T, bool kMasked, int kPx, int... R>
[[gnu::target("avx512f"), gnu::always_inline]] inline void tile2(
    const DirectArgs& a, std::int64_t ox0, std::int64_t x0, __m512 bias,
    std::integer_sequence<int, R...>) noexcept {
  constexpr int kColumns = T - 1 + K;
  const std::int64_t in_px = kPx > 0 ? kPx : a.in_px;
  const std::int64_t out_px = kPx > 0 ? kPx : a.out_px;
  __mmask16 masks[kColumns];
  if constexpr (kMasked) column_masks(a, x0, masks);
  __m512 acc0[T], acc1[T];
  init_tile<T>(acc0, bias);
  init_tile<T>(acc1, bias);
  const float* in = column_address(a, x0);
  __m512 wv[K][K];
  (input_row2<K, T, kMasked, R>(a, in, in_px, masks, wv, acc0, acc1,
                                std::make_integer_sequence<int, kColumns>{}),
   ...);
  store_tile_direct<T>(a, a.out, out_px, ox0, acc0);
  store_tile_direct<T>(a, a.out + a.out_row, out_px, ox0, acc1);
}

// a.in: src row oy - pad_h; a.weights: tap (0, 0); a.out: dst row oy. kPx > 0: src and dst pixel
// strides are kPx, so that every load and store addresses [row + immediate]; with the stride in a
// register GCC 12 spends an add per column and spills (objdump of k=3 T=8: 8 GPRs to xmm and a zmm
// to the stack), measured 4-7 % slower at 56x56x96 k3 and k5.
template <int K, int T, int kPx>
[[gnu::target("avx512f")]] void rows2_direct(const DirectArgs& a) noexcept {
  constexpr int kColumns = T - 1 + K;
  constexpr auto rows = std::make_integer_sequence<int, K + 1>{};
  const __m512 bias = _mm512_load_ps(a.bias);
  const bool full = a.mask == static_cast<__mmask16>(0xFFFF);
  for (std::int64_t tile = 0; tile < a.tiles; ++tile) {
    const std::int64_t x0 = a.in_x0 + tile * T;
    if (full && x0 >= 0 && x0 + kColumns <= a.in_w) {
      tile2<K, T, false, kPx>(a, tile * T, x0, bias, rows);
    } else {
      tile2<K, T, true, kPx>(a, tile * T, x0, bias, rows);
    }
  }
}

// Everything create() prepares and run() reads: the reordered weights, the tiling, the buffers.
struct Prepared {
  Conv2dDesc desc;
  int threads = 1;
  std::int64_t src_pixel = 0, dst_pixel = 0;  // floats between neighbouring pixels
  std::int64_t oh = 0, ow = 0;
  std::int64_t cp = 0;       // channels padded to a multiple of 16
  std::int64_t blocks = 0;   // cp / 16
  Tensor weights;            // [kh][kw][cp], zero in the padded channels
  Tensor bias;               // [cp], zero when the desc has no bias
  int tile = 0;              // T
  std::int64_t tiles = 0;    // ceil(ow / T)
  RowKernel kernel = nullptr;
  std::int64_t rows_per_task = 0, row_blocks = 0;
  std::int64_t phases = 1;      // phases_of(desc)
  std::int64_t phase_cols = 0;  // buffer columns per phase; buffer_cols = phases * phase_cols
  std::int64_t buffer_rows = 0, buffer_cols = 0;  // per thread: [rows][cols][16] floats
  Tensor buffers;            // [threads][rows][cols][16]; columns outside the image stay zero
};

// The direct path's kernels, where create() chooses it (then `tile` and the tasks of Prepared are
// its own, and there are no buffers): rows in pairs through kernel2, the others through kernel1.
struct DirectKernels {
  DirectKernel kernel1 = nullptr, kernel2 = nullptr;
};

// Copies input row `iy` of one channel block into the buffer row `dst`: padded column p = pad_w + x
// goes to phase p % phases, position p / phases (with one phase: column p). The masked load
// zero-fills the lanes past c, which then multiply zero weights.
[[gnu::target("avx512f")]] void copy_row(const float* src, std::int64_t w, std::int64_t pad_w,
                                         std::int64_t pixel_stride, __mmask16 mask,
                                         std::int64_t phases, std::int64_t phase_cols,
                                         float* dst) noexcept {
  if (phases == 1) {
    dst += pad_w * kLanes;
    for (std::int64_t x = 0; x < w; ++x) {
      _mm512_store_ps(dst + x * kLanes, _mm512_maskz_loadu_ps(mask, src + x * pixel_stride));
    }
    return;
  }
  for (std::int64_t x = 0; x < w; ++x) {
    const std::int64_t p = pad_w + x;
    _mm512_store_ps(dst + ((p % phases) * phase_cols + p / phases) * kLanes,
                    _mm512_maskz_loadu_ps(mask, src + x * pixel_stride));
  }
}

// Whether some output row in [oy0, oy1) reads input row iy through some tap.
bool row_needed(const Conv2dDesc& d, std::int64_t iy, std::int64_t oy0, std::int64_t oy1) {
  for (std::int64_t ky = 0; ky < d.kh; ++ky) {
    const std::int64_t offset = iy + d.pad_h - ky * d.dilation_h;  // = oy * stride_h
    if (offset >= 0 && offset % d.stride_h == 0 && offset / d.stride_h >= oy0 && offset / d.stride_h < oy1) {
      return true;
    }
  }
  return false;
}

// One task: image b, output rows [oy0, oy1), channels [16*block, 16*block + 16).
void run_task(const Prepared& s, const float* src, float* dst, float* buffer,
              std::int64_t task) noexcept {
  const Conv2dDesc& d = s.desc;
  const std::int64_t block = task % s.blocks;
  const std::int64_t row_block = (task / s.blocks) % s.row_blocks;
  const std::int64_t b = task / (s.blocks * s.row_blocks);
  const std::int64_t oy0 = row_block * s.rows_per_task;
  const std::int64_t oy1 = std::min(s.oh, oy0 + s.rows_per_task);
  const std::int64_t c = d.ic;
  const std::int64_t remaining = c - block * kLanes;
  const auto mask = static_cast<__mmask16>(remaining >= kLanes ? 0xFFFFu : (1u << remaining) - 1u);
  const std::int64_t row_floats = s.buffer_cols * kLanes;

  // Buffer row r holds input row iy_first + r. Rows are copied just before the first output row that
  // reads them, so the kh rows in use are the ones most recently written: L1-hot for kh*w*64 bytes up
  // to ~48 KiB (kh=7 at w=56: 25 KiB), where copying the whole block first would go through L2.
  const std::int64_t iy_first = oy0 * d.stride_h - d.pad_h;
  const std::int64_t iy_end = std::min(d.h, (oy1 - 1) * d.stride_h - d.pad_h + (d.kh - 1) * d.dilation_h + 1);
  std::int64_t iy_next = std::max<std::int64_t>(0, iy_first);

  RowArgs a{.in = buffer,
            .in_ky_step = d.dilation_h * row_floats,
            .weights = nullptr,
            .w_ky_step = d.kw * s.cp,
            .w_kx_step = s.cp,
            .ky_count = 0,
            .bias = s.bias.f32() + block * kLanes,
            .out = nullptr,
            .out_step = s.phases * s.dst_pixel,
            .ow = s.ow,
            .tiles = s.tiles,
            .channel_mask = mask,
            .relu = d.act == Activation::Relu,
            .kw = d.kw,
            .stride_w = d.stride_w,
            .dilation_w = s.phases > 1 ? 1 : d.dilation_w};
  for (std::int64_t oy = oy0; oy < oy1; ++oy) {
    // Taps ky with 0 <= top + ky*dilation_h < h; the others read vertical padding.
    const std::int64_t top = oy * d.stride_h - d.pad_h;
    const std::int64_t ky_lo = top >= 0 ? 0 : ceil_div(-top, d.dilation_h);
    const std::int64_t ky_hi = d.h - 1 - top < 0 ? 0 : std::min(d.kh, (d.h - 1 - top) / d.dilation_h + 1);
    a.ky_count = std::max<std::int64_t>(0, ky_hi - ky_lo);
    const std::int64_t rows_end = a.ky_count > 0 ? std::min(iy_end, top + (ky_hi - 1) * d.dilation_h + 1) : 0;
    for (; iy_next < rows_end; ++iy_next) {
      if (!row_needed(d, iy_next, oy0, oy1)) continue;
      copy_row(src + ((b * d.h + iy_next) * d.w) * s.src_pixel + block * kLanes, d.w, d.pad_w,
               s.src_pixel, mask, s.phases, s.phase_cols,
               buffer + (iy_next - iy_first) * row_floats);
    }
    const float* in_row =
        a.ky_count > 0 ? buffer + (top + ky_lo * d.dilation_h - iy_first) * row_floats : buffer;
    a.weights = s.weights.f32() + (a.ky_count > 0 ? ky_lo : 0) * d.kw * s.cp + block * kLanes;
    float* out_row = dst + ((b * s.oh + oy) * s.ow) * s.dst_pixel + block * kLanes;
    // Phase r computes output columns r, r + phases, ...: ceil((ow - r) / phases) of them.
    for (std::int64_t r = 0; r < s.phases && r < s.ow; ++r) {
      a.in = in_row + r * s.phase_cols * kLanes;
      a.out = out_row + r * s.dst_pixel;
      a.ow = ceil_div(s.ow - r, s.phases);
      a.tiles = ceil_div(a.ow, s.tile);
      s.kernel(a);
    }
  }
}

// A direct task: image b, output rows [oy0, oy1), channels [16*block, 16*block + 16), as run_task.
// Rows whose taps all lie inside the image go in pairs (kernel2); the others, at the top and bottom
// borders and the last of an odd count, one at a time (kernel1).
void run_task_direct(const Prepared& s, const DirectKernels& k, const float* src, float* dst,
                     std::int64_t task) noexcept {
  const Conv2dDesc& d = s.desc;
  const std::int64_t block = task % s.blocks;
  const std::int64_t row_block = (task / s.blocks) % s.row_blocks;
  const std::int64_t b = task / (s.blocks * s.row_blocks);
  const std::int64_t oy0 = row_block * s.rows_per_task;
  const std::int64_t oy1 = std::min(s.oh, oy0 + s.rows_per_task);
  const std::int64_t remaining = d.ic - block * kLanes;
  const float* image = src + b * d.h * d.w * s.src_pixel + block * kLanes;
  const float* weights = s.weights.f32() + block * kLanes;
  DirectArgs a{
      .in = nullptr,
      .in_row = d.w * s.src_pixel,
      .in_px = s.src_pixel,
      .in_x0 = -d.pad_w,
      .in_w = d.w,
      .mask = static_cast<__mmask16>(remaining >= kLanes ? 0xFFFFu : (1u << remaining) - 1u),
      .weights = nullptr,
      .w_row = d.kw * s.cp,
      .w_px = s.cp,
      .ky_count = 0,
      .bias = s.bias.f32() + block * kLanes,
      .out = nullptr,
      .out_row = s.ow * s.dst_pixel,
      .out_px = s.dst_pixel,
      .ow = s.ow,
      .tiles = s.tiles,
      .relu = d.act == Activation::Relu};
  for (std::int64_t oy = oy0; oy < oy1;) {
    const std::int64_t top = oy - d.pad_h;  // the src row of tap ky = 0 (stride 1, no dilation)
    a.out = dst + ((b * s.oh + oy) * s.ow) * s.dst_pixel + block * kLanes;
    if (oy + 1 < oy1 && top >= 0 && top + d.kh < d.h) {
      a.in = image + top * a.in_row;
      a.weights = weights;
      k.kernel2(a);
      oy += 2;
      continue;
    }
    const std::int64_t ky_lo = std::max<std::int64_t>(0, -top);
    a.ky_count = std::max<std::int64_t>(0, std::min(d.kh, d.h - top) - ky_lo);
    a.in = image + (a.ky_count > 0 ? top + ky_lo : 0) * a.in_row;
    a.weights = weights + (a.ky_count > 0 ? ky_lo : 0) * a.w_row;
    k.kernel1(a);
    ++oy;
  }
}

}  // namespace

struct DwconvNhwcAvx512::State : Prepared {};
struct DwconvNhwcAvx512::Direct : DirectKernels {};

std::string DwconvNhwcAvx512::why_not(const Conv2dDesc& d) {
  if (!(d.groups == d.ic && d.oc == d.ic)) {
    return fmt::format("groups={} must equal ic={} and oc={} (depthwise without channel multiplier only)",
                       d.groups, d.ic, d.oc);
  }
  if (d.act != Activation::None && d.act != Activation::Relu) {
    return fmt::format("act={} is not fused (none or relu only)", to_string(d.act));
  }
  if (!__builtin_cpu_supports("avx512f")) return "this CPU lacks avx512f";
  return {};
}

DwconvNhwcAvx512::DwconvNhwcAvx512(std::unique_ptr<State> state, std::unique_ptr<Direct> direct)
    : state_(std::move(state)), direct_(std::move(direct)) {}
DwconvNhwcAvx512::DwconvNhwcAvx512(DwconvNhwcAvx512&&) noexcept = default;
DwconvNhwcAvx512& DwconvNhwcAvx512::operator=(DwconvNhwcAvx512&&) noexcept = default;
DwconvNhwcAvx512::~DwconvNhwcAvx512() = default;

int DwconvNhwcAvx512::tile_width() const { return state_->tile; }
int DwconvNhwcAvx512::rows_per_task() const { return static_cast<int>(state_->rows_per_task); }

DwconvNhwcAvx512 DwconvNhwcAvx512::create_direct(std::unique_ptr<State> s) {
  const Conv2dDesc& d = s->desc;
  auto k = std::make_unique<Direct>();
  // T = 8 or 7, whichever wastes fewer columns: 2T accumulators and two tap rows of weights fit the
  // 32 zmm registers up to T = 8 at k = 5.
  s->tile = ceil_div(s->ow, 8) * 8 <= ceil_div(s->ow, 7) * 7 ? 8 : 7;
  s->tiles = ceil_div(s->ow, s->tile);
  // The pixel stride as an immediate for 96 floats (the stage-1 width of ConvNeXt-T and Swin-T at
  // 56x56); any other stride is read from a register.
  const bool px96 = s->src_pixel == 96 && s->dst_pixel == 96 && s->tile == 8;
  if (d.kw == 3) {
    k->kernel1 = s->tile == 8 ? &row1_direct<3, 8> : &row1_direct<3, 7>;
    k->kernel2 = s->tile == 8 ? (px96 ? &rows2_direct<3, 8, 96> : &rows2_direct<3, 8, 0>)
                              : &rows2_direct<3, 7, 0>;
  } else {
    k->kernel1 = s->tile == 8 ? &row1_direct<5, 8> : &row1_direct<5, 7>;
    k->kernel2 = s->tile == 8 ? (px96 ? &rows2_direct<5, 8, 96> : &rows2_direct<5, 8, 0>)
                              : &rows2_direct<5, 7, 0>;
  }
  // As the buffer path's tasks, without the buffer's cap.
  std::int64_t rows = s->oh;
  while (rows > 1 && d.n * ceil_div(s->oh, rows) * s->blocks < kMinTasksPerThread * s->threads) {
    rows = ceil_div(rows, 2);
  }
  s->rows_per_task = rows;
  s->row_blocks = ceil_div(s->oh, rows);
  return DwconvNhwcAvx512(std::move(s), std::move(k));
}

DwconvNhwcAvx512 DwconvNhwcAvx512::create(const Engine& engine, const Conv2dDesc& d,
                                          ConstTensorView weights, ConstTensorView bias,
                                          DwconvPixelStrides strides) {
  HWNAS_ASSERT(why_not(d).empty());
  auto s = std::make_unique<State>();
  s->desc = d;
  s->src_pixel = strides.src > 0 ? strides.src : d.ic;
  s->dst_pixel = strides.dst > 0 ? strides.dst : d.oc;
  HWNAS_ASSERT(s->src_pixel >= d.ic && s->dst_pixel >= d.oc);
  s->threads = engine.threads();
  s->oh = conv2d_out_h(d);
  s->ow = conv2d_out_w(d);
  s->blocks = ceil_div(d.ic, kLanes);
  s->cp = s->blocks * kLanes;

  // [c, 1, kh, kw] with any strides -> [kh][kw][cp].
  s->weights = Tensor::zeros({d.kh, d.kw, s->cp});
  const Strides& ws = weights.strides();
  for (std::int64_t ch = 0; ch < d.ic; ++ch) {
    for (std::int64_t ky = 0; ky < d.kh; ++ky) {
      for (std::int64_t kx = 0; kx < d.kw; ++kx) {
        s->weights.f32()[(ky * d.kw + kx) * s->cp + ch] = weights.f32()[ch * ws[0] + ky * ws[2] + kx * ws[3]];
      }
    }
  }
  s->bias = Tensor::zeros({s->cp});
  if (d.bias == Bias::Add) {
    for (std::int64_t ch = 0; ch < d.ic; ++ch) s->bias.f32()[ch] = bias.f32()[ch * bias.strides()[0]];
  }

  // The direct path reads src in place and computes two output rows per pass (kernel2). It runs
  // where it measured faster than the buffer path (2 threads, bench/compare.py against the buffer
  // path, 4 runs): 56x56x96 k3 0.76-0.82x the time, k5 0.85-1.01x (median 0.89), 7x7x768 k3 0.66x.
  // Where src pixels are further apart than 96 floats and the image is wider than 7, the buffer
  // path stays, unchanged: there direct reads took from 0.6x to 1.9x the buffer path's time at
  // 28x28x192 and 14x14x384 k3, varying from one process to the next (earlier runs: 1.16x
  // and 1.58x); plausibly set conflicts of the physical pages, one 64-byte line in every 768 or
  // 1536 bytes, where the buffer is contiguous. k >= 7 keeps the buffer path too: one row per pass
  // there, and direct reads measured no faster at 56x56x96 k7 and k13.
  if (d.stride_h == 1 && d.stride_w == 1 && d.dilation_h == 1 && d.dilation_w == 1 &&
      d.kh == d.kw && (d.kw == 3 || d.kw == 5) && (s->src_pixel <= 96 || d.w <= 7)) {
    return create_direct(std::move(s));
  }
  // With phases, each phase is an undilated conv over ceil(ow / phases) output columns.
  s->phases = phases_of(d);
  Conv2dDesc row_desc = d;
  if (s->phases > 1) row_desc.dilation_w = 1;
  const std::int64_t phase_ow = ceil_div(s->ow, s->phases);
  s->tile = pick_tile_width(row_desc, phase_ow);
  s->tiles = ceil_div(phase_ow, s->tile);
  s->kernel = pick_kernel(row_desc, s->tile);
  // Columns per phase: the phase's share of the padded row, and whatever the last (partly invalid)
  // tile reads past it.
  s->phase_cols =
      std::max(ceil_div(d.w + 2 * d.pad_w, s->phases),
               (s->tiles * s->tile - 1) * d.stride_w + (d.kw - 1) * row_desc.dilation_w + 1);
  s->buffer_cols = s->phases * s->phase_cols;
  const auto buffer_rows_for = [&](std::int64_t rows) { return (rows - 1) * d.stride_h + (d.kh - 1) * d.dilation_h + 1; };
  const auto tasks_for = [&](std::int64_t rows) { return d.n * ceil_div(s->oh, rows) * s->blocks; };
  std::int64_t rows = s->oh;
  while (rows > 1 && (tasks_for(rows) < kMinTasksPerThread * s->threads ||
                      buffer_rows_for(rows) * s->buffer_cols * kLanes * 4 > kMaxBufferBytes)) {
    rows = ceil_div(rows, 2);
  }
  s->rows_per_task = rows;
  s->row_blocks = ceil_div(s->oh, rows);
  s->buffer_rows = buffer_rows_for(rows);
  s->buffers = Tensor::zeros({s->threads, s->buffer_rows, s->buffer_cols, kLanes});
  return DwconvNhwcAvx512(std::move(s), nullptr);
}

void DwconvNhwcAvx512::run(const float* src, float* dst) const noexcept {
  State& s = *state_;
  const std::int64_t tasks = s.desc.n * s.row_blocks * s.blocks;
  if (direct_ != nullptr) {
    const Direct& k = *direct_;
#pragma omp parallel for num_threads(s.threads) schedule(static)
    for (std::int64_t task = 0; task < tasks; ++task) run_task_direct(s, k, src, dst, task);
    return;
  }
  const std::int64_t buffer_floats = s.buffer_rows * s.buffer_cols * kLanes;
  float* buffers = s.buffers.f32();
#pragma omp parallel num_threads(s.threads)
  {
    float* buffer = buffers + omp_get_thread_num() * buffer_floats;
#pragma omp for schedule(static)
    for (std::int64_t task = 0; task < tasks; ++task) run_task(s, src, dst, buffer, task);
  }
}

}  // namespace hwnas::cpu
