// The AVX-512 path of NeighborhoodAttentionCore (the scheme in neighborhood_attention_core.hpp, the
// block arguments and tables in neighborhood_attention_core_impl.hpp): per-block logits, softmax
// and p.v as 16-lane FMAs, and the transposes between tokens and planes.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/avx512_math.hpp"
#include "kernels/cpu/neighborhood_attention_core_impl.hpp"

namespace hwnas::cpu::detail {
namespace {

constexpr int kLanes = kNaLanes;

// AVX-512 path. Keys of a clamped block at one kx lie in [base, base + 32): two loads and a
// two-source permute give the 16 lanes (vpermt2ps), where an unclamped block needs one load.
template <bool kContiguous>
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 load_keys(const float* at,
                                                                       __m512i index) noexcept {
  if constexpr (kContiguous) {
    return _mm512_loadu_ps(at);
  } else {
    return _mm512_permutex2var_ps(_mm512_loadu_ps(at), index, _mm512_loadu_ps(at + kLanes));
  }
}

// Logits of the K*K neighbours of 16 queries into a.logits; returns their lane-wise maximum. One
// kernel row at a time: K accumulators, and per channel one q load and K key loads for K FMAs.
template <int K, bool kContiguous>
[[gnu::target("avx512f")]] __m512 logits_avx512(const NaBlockArgs& a) noexcept {
  __m512i index[K];
#pragma GCC unroll 16
  for (int kx = 0; kx < K; ++kx) {
    index[kx] = kContiguous ? _mm512_setzero_si512() : _mm512_loadu_si512(a.index + kx * kLanes);
  }
  std::int64_t base[K];
#pragma GCC unroll 16
  for (int kx = 0; kx < K; ++kx) base[kx] = a.base[kx];
  __m512 lane_max = _mm512_set1_ps(-INFINITY);
  for (int ky = 0; ky < K; ++ky) {
    const float* krow = a.k + a.key_row[ky] * a.row;
    __m512 acc[K];
    if (a.bias != nullptr) {
      const float* bias = a.bias + a.bias_row[ky] * K * a.bias_stride;
#pragma GCC unroll 16
      for (int kx = 0; kx < K; ++kx) acc[kx] = _mm512_loadu_ps(bias + kx * a.bias_stride);
    } else {
#pragma GCC unroll 16
      for (int kx = 0; kx < K; ++kx) acc[kx] = _mm512_setzero_ps();
    }
    for (std::int64_t ch = 0; ch < a.head_dim; ++ch) {
      const __m512 q = _mm512_loadu_ps(a.q + ch * a.plane);
      const float* key = krow + ch * a.plane;
#pragma GCC unroll 16
      for (int kx = 0; kx < K; ++kx) {
        acc[kx] = _mm512_fmadd_ps(q, load_keys<kContiguous>(key + base[kx], index[kx]), acc[kx]);
      }
    }
#pragma GCC unroll 16
    for (int kx = 0; kx < K; ++kx) {
      _mm512_store_ps(a.logits + (ky * K + kx) * kLanes, acc[kx]);
      lane_max = _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), lane_max, acc[kx]);
    }
  }
  return lane_max;
}

// CH output channels of 16 queries: sum over the K*K neighbours of p * v, times 1 / sum p.
template <int K, int CH, bool kContiguous>
[[gnu::target("avx512f")]] void values_avx512(const NaBlockArgs& a, std::int64_t ch0,
                                              __m512 inverse_sum) noexcept {
  __m512 acc[CH];
#pragma GCC unroll 16
  for (int i = 0; i < CH; ++i) acc[i] = _mm512_setzero_ps();
  for (int ky = 0; ky < K; ++ky) {
    const float* vrow = a.v + a.key_row[ky] * a.row + ch0 * a.plane;
#pragma GCC unroll 16
    for (int kx = 0; kx < K; ++kx) {
      const __m512 p = _mm512_load_ps(a.logits + (ky * K + kx) * kLanes);
      const __m512i index =
          kContiguous ? _mm512_setzero_si512() : _mm512_loadu_si512(a.index + kx * kLanes);
      const float* value = vrow + a.base[kx];
#pragma GCC unroll 16
      for (int i = 0; i < CH; ++i) {
        acc[i] = _mm512_fmadd_ps(p, load_keys<kContiguous>(value + i * a.plane, index), acc[i]);
      }
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < CH; ++i) {
    _mm512_store_ps(a.o + (ch0 + i) * kLanes, _mm512_mul_ps(acc[i], inverse_sum));
  }
}

template <int K, bool kContiguous>
[[gnu::target("avx512f")]] void block_avx512(const NaBlockArgs& a) noexcept {
  const __m512 lane_max = logits_avx512<K, kContiguous>(a);
  __m512 lane_sum = _mm512_setzero_ps();
  for (int j = 0; j < K * K; ++j) {
    float* p = a.logits + j * kLanes;
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_load_ps(p), lane_max));
    _mm512_store_ps(p, e);
    lane_sum = _mm512_add_ps(lane_sum, e);
  }
  const __m512 inverse_sum = _mm512_div_ps(_mm512_set1_ps(1.f), lane_sum);
  std::int64_t ch = 0;
  for (; ch + 16 <= a.head_dim; ch += 16) values_avx512<K, 16, kContiguous>(a, ch, inverse_sum);
  if (ch + 8 <= a.head_dim) values_avx512<K, 8, kContiguous>(a, ch, inverse_sum), ch += 8;
  if (ch + 4 <= a.head_dim) values_avx512<K, 4, kContiguous>(a, ch, inverse_sum), ch += 4;
  if (ch + 2 <= a.head_dim) values_avx512<K, 2, kContiguous>(a, ch, inverse_sum), ch += 2;
  if (ch < a.head_dim) values_avx512<K, 1, kContiguous>(a, ch, inverse_sum);
}

// 16x16 transpose in registers: rows r[i] become columns. Unpack pairs, shuffle quads within
// 128-bit lanes, then exchange 128-bit lanes twice. The all-ones masked forms, because the plain
// intrinsics' _mm512_undefined_ps() trips GCC 12's -Wmaybe-uninitialized.
[[gnu::target("avx512f")]] inline void transpose16(__m512 (&r)[kLanes]) noexcept {
  const auto all = static_cast<__mmask16>(0xFFFF);
  __m512 t[kLanes];
#pragma GCC unroll 8
  for (int i = 0; i < kLanes; i += 2) {
    t[i] = _mm512_mask_unpacklo_ps(r[i], all, r[i], r[i + 1]);
    t[i + 1] = _mm512_mask_unpackhi_ps(r[i], all, r[i], r[i + 1]);
  }
#pragma GCC unroll 4
  for (int i = 0; i < kLanes; i += 4) {
    r[i] = _mm512_mask_shuffle_ps(t[i], all, t[i], t[i + 2], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 1] = _mm512_mask_shuffle_ps(t[i], all, t[i], t[i + 2], _MM_SHUFFLE(3, 2, 3, 2));
    r[i + 2] = _mm512_mask_shuffle_ps(t[i + 1], all, t[i + 1], t[i + 3], _MM_SHUFFLE(1, 0, 1, 0));
    r[i + 3] = _mm512_mask_shuffle_ps(t[i + 1], all, t[i + 1], t[i + 3], _MM_SHUFFLE(3, 2, 3, 2));
  }
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_mask_shuffle_f32x4(r[i], all, r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_mask_shuffle_f32x4(r[i], all, r[i], r[i + 4], 0xdd);
    t[i + 8] = _mm512_mask_shuffle_f32x4(r[i + 8], all, r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_mask_shuffle_f32x4(r[i + 8], all, r[i + 8], r[i + 12], 0xdd);
  }
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_mask_shuffle_f32x4(t[i], all, t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_mask_shuffle_f32x4(t[i], all, t[i], t[i + 8], 0xdd);
  }
}

// Clamped blocks whose keys at every kx lie within 32 floats of base[0] (always for kernel <= 9):
// per channel and kernel row two loads serve all K kernel columns through K permutes, instead of
// two loads and a permute per kernel column.
template <int K>
[[gnu::target("avx512f")]] __m512 logits_window_avx512(const NaBlockArgs& a) noexcept {
  __m512i index[K];
#pragma GCC unroll 16
  for (int kx = 0; kx < K; ++kx) index[kx] = _mm512_loadu_si512(a.window_index + kx * kLanes);
  __m512 lane_max = _mm512_set1_ps(-INFINITY);
  for (int ky = 0; ky < K; ++ky) {
    const float* krow = a.k + a.key_row[ky] * a.row + a.base[0];
    __m512 acc[K];
    if (a.bias != nullptr) {
      const float* bias = a.bias + a.bias_row[ky] * K * a.bias_stride;
#pragma GCC unroll 16
      for (int kx = 0; kx < K; ++kx) acc[kx] = _mm512_loadu_ps(bias + kx * a.bias_stride);
    } else {
#pragma GCC unroll 16
      for (int kx = 0; kx < K; ++kx) acc[kx] = _mm512_setzero_ps();
    }
    for (std::int64_t ch = 0; ch < a.head_dim; ++ch) {
      const __m512 q = _mm512_loadu_ps(a.q + ch * a.plane);
      const __m512 lo = _mm512_loadu_ps(krow + ch * a.plane);
      const __m512 hi = _mm512_loadu_ps(krow + ch * a.plane + kLanes);
#pragma GCC unroll 16
      for (int kx = 0; kx < K; ++kx) {
        acc[kx] = _mm512_fmadd_ps(q, _mm512_permutex2var_ps(lo, index[kx], hi), acc[kx]);
      }
    }
#pragma GCC unroll 16
    for (int kx = 0; kx < K; ++kx) {
      _mm512_store_ps(a.logits + (ky * K + kx) * kLanes, acc[kx]);
      lane_max = _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), lane_max, acc[kx]);
    }
  }
  return lane_max;
}

// K probabilities and K index vectors stay in registers across the CH channels (CH <= 8).
template <int K, int CH>
[[gnu::target("avx512f")]] void values_window_avx512(const NaBlockArgs& a, std::int64_t ch0,
                                                     __m512 inverse_sum) noexcept {
  __m512i index[K];
#pragma GCC unroll 16
  for (int kx = 0; kx < K; ++kx) index[kx] = _mm512_loadu_si512(a.window_index + kx * kLanes);
  __m512 acc[CH];
#pragma GCC unroll 16
  for (int i = 0; i < CH; ++i) acc[i] = _mm512_setzero_ps();
  for (int ky = 0; ky < K; ++ky) {
    const float* vrow = a.v + a.key_row[ky] * a.row + ch0 * a.plane + a.base[0];
    __m512 p[K];
#pragma GCC unroll 16
    for (int kx = 0; kx < K; ++kx) p[kx] = _mm512_load_ps(a.logits + (ky * K + kx) * kLanes);
#pragma GCC unroll 16
    for (int i = 0; i < CH; ++i) {
      const __m512 lo = _mm512_loadu_ps(vrow + i * a.plane);
      const __m512 hi = _mm512_loadu_ps(vrow + i * a.plane + kLanes);
#pragma GCC unroll 16
      for (int kx = 0; kx < K; ++kx) {
        acc[i] = _mm512_fmadd_ps(p[kx], _mm512_permutex2var_ps(lo, index[kx], hi), acc[i]);
      }
    }
  }
#pragma GCC unroll 16
  for (int i = 0; i < CH; ++i) {
    _mm512_store_ps(a.o + (ch0 + i) * kLanes, _mm512_mul_ps(acc[i], inverse_sum));
  }
}

template <int K>
[[gnu::target("avx512f")]] void block_window_avx512(const NaBlockArgs& a) noexcept {
  const __m512 lane_max = logits_window_avx512<K>(a);
  __m512 lane_sum = _mm512_setzero_ps();
  for (int j = 0; j < K * K; ++j) {
    float* p = a.logits + j * kLanes;
    const __m512 e = exp_ps(_mm512_sub_ps(_mm512_load_ps(p), lane_max));
    _mm512_store_ps(p, e);
    lane_sum = _mm512_add_ps(lane_sum, e);
  }
  const __m512 inverse_sum = _mm512_div_ps(_mm512_set1_ps(1.f), lane_sum);
  std::int64_t ch = 0;
  for (; ch + 8 <= a.head_dim; ch += 8) values_window_avx512<K, 8>(a, ch, inverse_sum);
  if (ch + 4 <= a.head_dim) values_window_avx512<K, 4>(a, ch, inverse_sum), ch += 4;
  if (ch + 2 <= a.head_dim) values_window_avx512<K, 2>(a, ch, inverse_sum), ch += 2;
  if (ch < a.head_dim) values_window_avx512<K, 1>(a, ch, inverse_sum);
}

template <int K>
constexpr NaVectorKernels vector_kernels() {
  return {&block_avx512<K, true>, &block_window_avx512<K>, &block_avx512<K, false>};
}

}  // namespace

// One map row of qkv tokens into the planes: 16 stored columns x 16 channels per transpose, q
// scaled. Stores are masked to the row's valid columns (past them lies the next row).
[[gnu::target("avx512f")]] void na_planes_row_avx512(const float* src, float* dst,
                                                     const std::int32_t* column_of_stored,
                                                     std::int64_t w, std::int64_t c,
                                                     std::int64_t plane, float scale) noexcept {
  const std::int64_t channels = 3 * c;
  for (std::int64_t p0 = 0; p0 < w; p0 += kLanes) {
    const std::int64_t valid = std::min<std::int64_t>(kLanes, w - p0);
    const auto lanes = static_cast<__mmask16>((1u << valid) - 1);
    const float* rows[kLanes];
    for (std::int64_t i = 0; i < kLanes; ++i) {
      rows[i] = src + column_of_stored[p0 + std::min(i, valid - 1)] * channels;
    }
    for (std::int64_t j0 = 0; j0 < channels; j0 += kLanes) {
      const std::int64_t count = std::min<std::int64_t>(kLanes, channels - j0);
      const auto load_mask = static_cast<__mmask16>((1u << count) - 1);
      __m512 r[kLanes];
#pragma GCC unroll 16
      for (int i = 0; i < kLanes; ++i) r[i] = _mm512_maskz_loadu_ps(load_mask, rows[i] + j0);
      transpose16(r);
      for (std::int64_t j = 0; j < count; ++j) {
        const __m512 v = j0 + j < c ? _mm512_mul_ps(r[j], _mm512_set1_ps(scale)) : r[j];
        _mm512_mask_storeu_ps(dst + (j0 + j) * plane + p0, lanes, v);
      }
    }
  }
}

// The block's outputs [head_dim][16] (rows past head_dim are scratch) to token order.
[[gnu::target("avx512f")]] void na_scatter_avx512(const float* o, std::int64_t head_dim,
                                                  const std::int32_t* columns, float* out_row,
                                                  std::int64_t c) noexcept {
  for (std::int64_t ch0 = 0; ch0 < head_dim; ch0 += kLanes) {
    const std::int64_t count = std::min<std::int64_t>(kLanes, head_dim - ch0);
    const auto mask = static_cast<__mmask16>((1u << count) - 1);
    __m512 r[kLanes];
#pragma GCC unroll 16
    for (int i = 0; i < kLanes; ++i) r[i] = _mm512_load_ps(o + (ch0 + i) * kLanes);
    transpose16(r);
#pragma GCC unroll 16
    for (int lane = 0; lane < kLanes; ++lane) {
      if (columns[lane] >= 0)
        _mm512_mask_storeu_ps(out_row + columns[lane] * c + ch0, mask, r[lane]);
    }
  }
}

NaVectorKernels na_vector_kernels(std::int64_t kernel) {
  switch (kernel) {
    case 3:
      return vector_kernels<3>();
    case 5:
      return vector_kernels<5>();
    case 7:
      return vector_kernels<7>();
    case 9:
      return vector_kernels<9>();
    case 11:
      return vector_kernels<11>();
    case 13:
      return vector_kernels<13>();
    default:
      return {};
  }
}

}  // namespace hwnas::cpu::detail
