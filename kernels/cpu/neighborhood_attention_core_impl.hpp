// The AVX-512 kernels behind NeighborhoodAttentionCore (neighborhood_attention_core_avx512.cpp)
// and what they share with the table building and the portable path
// (neighborhood_attention_core.cpp). Internal to kernels/cpu/.
//
// Everything here that takes or returns AVX-512 code runs only on a CPU with avx512f
// (NeighborhoodAttentionCore::why_not(geometry, NaCoreIsa::Avx512) empty).
#pragma once

#include <cstdint>

namespace hwnas::cpu::detail {

// Queries per block: one zmm of f32.
inline constexpr int kNaLanes = 16;

// What one 16-query block needs besides the tables: pointers at this (image, head, row, block).
struct NaBlockArgs {
  const float* q;  // channel 0 of this head's q at (y, p0); channel ch is ch * plane further
  const float* k;  // channel 0 of this head's k at (row 0, column 0)
  const float* v;
  std::int64_t plane;  // floats between channel planes (map_h * map_w)
  std::int64_t row;    // floats between rows (map_w)
  std::int64_t head_dim;
  const std::int32_t* key_row;   // [kernel]: key row of each kernel row
  const std::int32_t* bias_row;  // [kernel]: rpb row of each kernel row
  const float* bias;             // rpb table of this head at (bias row 0, kx 0, p0), or null
  std::int64_t bias_stride;      // floats between kx entries of the table; kernel * that per row
  const std::int32_t* base;      // [kernel]: stored column of the block's first key per kx
  const std::int32_t* index;     // [kernel][16]: key column - base per lane
  const std::int32_t* window_index;  // [kernel][16]: key column - base[0] per lane
  float* logits;                     // scratch [kernel^2][16]
  float* o;                          // scratch [head_dim][16]: the block's outputs, normalised
};

using NaBlockKernel = void (*)(const NaBlockArgs&) noexcept;

// One block kernel per block kind (BlockKind in neighborhood_attention_core.cpp).
struct NaVectorKernels {
  NaBlockKernel contiguous = nullptr, window = nullptr, clamped = nullptr;
};

// The kernels for an odd kernel in 3 .. 13 (NeighborhoodAttentionCore::kMaxVectorKernel); all
// null for any other.
NaVectorKernels na_vector_kernels(std::int64_t kernel);

// One map row of qkv tokens (src [w][3c]) into the planes at dst (that row of channel 0), q
// scaled; writes only the row's w stored columns.
void na_planes_row_avx512(const float* src, float* dst, const std::int32_t* column_of_stored,
                          std::int64_t w, std::int64_t c, std::int64_t plane, float scale) noexcept;

// The block's outputs o [head_dim][16] to token order: lane l to out_row + columns[l] * c, none
// where columns[l] < 0. Reads o up to head_dim rounded up to 16 rows.
void na_scatter_avx512(const float* o, std::int64_t head_dim, const std::int32_t* columns,
                       float* out_row, std::int64_t c) noexcept;

}  // namespace hwnas::cpu::detail
