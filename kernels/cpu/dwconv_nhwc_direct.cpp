// The direct path's kernels of DwconvNhwcAvx512 (the driver is dwconv_nhwc_avx512.cpp, what they
// share with it dwconv_nhwc_impl.hpp): square k = 3 and 5 at stride 1 without dilation, reading src
// in place with masked loads at the borders, one output row per pass (row1_direct) or two
// (rows2_direct), and how a desc picks them. Their own file so the driver reads as the driver; the
// driver reaches them only through the DirectKernels that pick_direct_kernels returns.
#include <immintrin.h>

#include <cstdint>
#include <utility>

#include "kernels/assert.hpp"
#include "kernels/cpu/dwconv_nhwc_impl.hpp"

namespace hwnas::cpu::dwconv_detail {
namespace {

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
    const auto all = static_cast<__mmask16>(0xFFFF);  // as in store_tile (dwconv_nhwc_rows.cpp)
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
// as row_fast (dwconv_nhwc_rows.cpp) with S = 1: a.in is the src row of the first tap inside the
// image.
template <int K, int T, bool kMasked, int J, int... KX>
[[gnu::target("avx512f"), gnu::always_inline]] inline void fma_column1(
    const float* in, std::int64_t px, const __mmask16* masks, const __m512 (&wv)[K],
    __m512 (&acc)[T], std::integer_sequence<int, KX...>) noexcept {
  __m512 x = load_column<kMasked, J>(in + J * px, masks);
  if constexpr (column_uses<K, 1, T, J>() > 1) {
    asm("" : "+v"(x));  // as in fma_column (dwconv_nhwc_rows.cpp)
  }
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
  asm("" : "+v"(x));  // as in fma_column (dwconv_nhwc_rows.cpp)
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

}  // namespace

// T = 8 or 7, whichever wastes fewer columns: 2T accumulators and two tap rows of weights fit the
// 32 zmm registers up to T = 8 at k = 5.
int pick_direct_tile_width(std::int64_t ow) {
  return ceil_div(ow, 8) * 8 <= ceil_div(ow, 7) * 7 ? 8 : 7;
}

DirectKernels pick_direct_kernels(const Conv2dDesc& d, int tile, DwconvPixelStrides strides) {
  HWNAS_ASSERT((d.kw == 3 || d.kw == 5) && (tile == 8 || tile == 7));
  // The pixel stride as an immediate for 96 floats (the stage-1 width of ConvNeXt-T and Swin-T at
  // 56x56); any other stride is read from a register.
  const bool px96 = strides.src == 96 && strides.dst == 96 && tile == 8;
  if (d.kw == 3) {
    return {.kernel1 = tile == 8 ? &row1_direct<3, 8> : &row1_direct<3, 7>,
            .kernel2 = tile == 8 ? (px96 ? &rows2_direct<3, 8, 96> : &rows2_direct<3, 8, 0>)
                                 : &rows2_direct<3, 7, 0>};
  }
  return {.kernel1 = tile == 8 ? &row1_direct<5, 8> : &row1_direct<5, 7>,
          .kernel2 = tile == 8 ? (px96 ? &rows2_direct<5, 8, 96> : &rows2_direct<5, 8, 0>)
                               : &rows2_direct<5, 7, 0>};
}

}  // namespace hwnas::cpu::dwconv_detail
