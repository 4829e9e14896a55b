// What the driver of DwconvNhwcAvx512 (dwconv_nhwc_avx512.cpp) shares with its two sets of
// kernels: the buffer path's row kernels (dwconv_nhwc_rows.cpp) and the direct path's
// (dwconv_nhwc_direct.cpp). Internal to kernels/cpu/.
//
// The split runs where the driver calls the kernels, through RowKernel and DirectKernel pointers:
// every kernel template is instantiated and inlined in its own file exactly as it was when the
// three were one file, so the instruction streams did not change. The always-inline helpers below
// are the pieces both kernel files build their tiles from.
//
// Everything here that takes or returns AVX-512 code runs only on a CPU with avx512f
// (DwconvNhwcAvx512::why_not(desc) empty).
#pragma once

#include <immintrin.h>

#include <cstdint>

#include "kernels/cpu/dwconv_nhwc_avx512.hpp"
#include "kernels/ops/conv2d.hpp"

namespace hwnas::cpu::dwconv_detail {

inline constexpr int kLanes = 16;  // f32 lanes of one zmm register: one channel block

inline std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// What a row kernel needs to compute one output row of one 16-channel block. `in` points at buffer
// column 0 of the input row of the first tap that lands inside the image (rows in the vertical
// padding are skipped, not multiplied by zero); buffer column x + pad_w holds input column x, and
// every other column is zero, so the kernels never test a border.
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
  std::int64_t tiles;      // ceil(ow / T); the last tile computes past ow into zero buffer columns
  __mmask16 channel_mask;  // lanes < c - 16*block; only stores are masked
  bool relu;
  // Read by the generic kernel; the fast ones have them as templates.
  std::int64_t kw, stride_w, dilation_w;
};
using RowKernel = void (*)(const RowArgs&) noexcept;

// A stride-1 row with dilation D runs as D undilated phases (why: dwconv_nhwc_rows.cpp); 1 for
// any other desc.
std::int64_t phases_of(const Conv2dDesc& d);

// The tile width T (output pixels per register tile) for output rows ow pixels wide.
int pick_tile_width(const Conv2dDesc& d, std::int64_t ow);

// The row kernel for d (dilation_w already 1 where phases_of(d) > 1) and a tile width from
// pick_tile_width: the register-resident fast kernel where one exists, else the generic one.
RowKernel pick_kernel(const Conv2dDesc& d, int tile);

// The direct path: k = 3 or 5 (square), stride 1, no dilation, and a pixel stride of at most 96
// floats or an image at most 7 wide (where DwconvNhwcAvx512::create() sends it, and why, is said
// there). It reads src in place instead of copying rows into the buffer, and computes two output
// rows per pass.
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

// The direct path's kernels, where DwconvNhwcAvx512::create() chooses it (then `tile` and the
// tasks of its Prepared are the direct path's own, and there are no buffers): rows in pairs through
// kernel2, the others through kernel1.
struct DirectKernels {
  DirectKernel kernel1 = nullptr, kernel2 = nullptr;
};

// The direct path's tile width: 8 or 7.
int pick_direct_tile_width(std::int64_t ow);

// The kernels for d (square k = 3 or 5, stride 1, no dilation), a tile width from
// pick_direct_tile_width and the resolved pixel strides (not 0).
DirectKernels pick_direct_kernels(const Conv2dDesc& d, int tile, DwconvPixelStrides strides);

// The pieces both paths build their register tiles from (row_fast and the direct kernels alike).
// Always inlined, so each kernel compiles as if they were written in its own file.
template <int T>
[[gnu::target("avx512f"), gnu::always_inline]] inline void init_tile(__m512 (&acc)[T],
                                                                     __m512 bias) noexcept {
#pragma GCC unroll 16
  for (int t = 0; t < T; ++t) acc[t] = bias;
}

// One tap of the fast path's tap row (the scheme above fma_column in dwconv_nhwc_rows.cpp): input
// column J feeds output pixel t through tap KX = J - t*S, if that pixel is in the tile.
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

}  // namespace hwnas::cpu::dwconv_detail
