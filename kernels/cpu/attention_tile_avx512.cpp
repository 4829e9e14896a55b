// The AVX-512 path of attention_tile() (layout of the scratch in attention_tile_impl.hpp).
//
// Per call: K is transposed once into kt [dk, np] (16x16 blocks in registers), so that S = Q K^T
// vectorises over keys: a register block of R query rows x V zmm of 16 keys accumulates R*V*16
// logits over dk with one broadcast of q per row and one load of kt per vector, and the scale, the
// bias and a running row maximum are applied as the block leaves the registers. Then exp(s - max)
// and the row sum in one pass over the R rows of s, and O = P V vectorised over dv: R rows x up to
// 4 zmm of outputs, one broadcast of p and one load of a v row per key, scaled by 1/sum at the
// store. Query rows go in blocks of R = kAttentionRowBlock, so s never holds more than R rows: with
// n = 3136 keys that is 75 KB, which stays in L2 between the three passes.
//
// The padded key columns n .. np of kt are zero; their logits are never stored past the bias's
// row, never enter the max or the sum, and the P V pass stops at n.
#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/cpu/attention_tile_impl.hpp"
#include "kernels/cpu/avx512_math.hpp"

namespace hwnas::cpu::detail {
namespace {

constexpr int kLanes = 16;
constexpr int kRows = static_cast<int>(kAttentionRowBlock);
constexpr int kMaxVectors = 4;  // zmm per register block along keys (S) or along dv (P V)
constexpr auto kAll = static_cast<__mmask16>(0xFFFF);

[[gnu::target("avx512f"), gnu::always_inline]] inline __mmask16 lanes_below(
    std::int64_t count) noexcept {
  return count >= kLanes ? kAll : static_cast<__mmask16>((1u << count) - 1u);
}

// Transposes a 16x16 block in registers: r[i][e] becomes r[e][i]. Four stages of lane shuffles
// (within 64-bit pairs, 128-bit quarters, then two across quarters); the all-ones masked forms are
// the same instructions as the plain intrinsics, whose undefined pass-through trips GCC 12's
// -Wmaybe-uninitialized.
[[gnu::target("avx512f"), gnu::always_inline]] inline void transpose16(
    __m512 (&r)[kLanes]) noexcept {
  const auto all8 = static_cast<__mmask8>(0xFF);
  __m512 t[kLanes];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_mask_unpacklo_ps(r[2 * i], kAll, r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_mask_unpackhi_ps(r[2 * i], kAll, r[2 * i], r[2 * i + 1]);
  }
  // u[4g + e], quarter L: column 4L + e of rows 4g .. 4g + 3.
  __m512 u[kLanes];
#pragma GCC unroll 4
  for (int g = 0; g < 4; ++g) {
    const __m512d a = _mm512_castps_pd(t[4 * g]), b = _mm512_castps_pd(t[4 * g + 2]);
    const __m512d c = _mm512_castps_pd(t[4 * g + 1]), d = _mm512_castps_pd(t[4 * g + 3]);
    u[4 * g] = _mm512_castpd_ps(_mm512_mask_unpacklo_pd(a, all8, a, b));
    u[4 * g + 1] = _mm512_castpd_ps(_mm512_mask_unpackhi_pd(a, all8, a, b));
    u[4 * g + 2] = _mm512_castpd_ps(_mm512_mask_unpacklo_pd(c, all8, c, d));
    u[4 * g + 3] = _mm512_castpd_ps(_mm512_mask_unpackhi_pd(c, all8, c, d));
  }
  __m512 w[kLanes];
#pragma GCC unroll 4
  for (int e = 0; e < 4; ++e) {
    w[e] = _mm512_mask_shuffle_f32x4(u[e], kAll, u[e], u[4 + e], 0x88);
    w[4 + e] = _mm512_mask_shuffle_f32x4(u[e], kAll, u[e], u[4 + e], 0xDD);
    w[8 + e] = _mm512_mask_shuffle_f32x4(u[8 + e], kAll, u[8 + e], u[12 + e], 0x88);
    w[12 + e] = _mm512_mask_shuffle_f32x4(u[8 + e], kAll, u[8 + e], u[12 + e], 0xDD);
  }
#pragma GCC unroll 4
  for (int e = 0; e < 4; ++e) {
    r[e] = _mm512_mask_shuffle_f32x4(w[e], kAll, w[e], w[8 + e], 0x88);
    r[8 + e] = _mm512_mask_shuffle_f32x4(w[e], kAll, w[e], w[8 + e], 0xDD);
    r[4 + e] = _mm512_mask_shuffle_f32x4(w[4 + e], kAll, w[4 + e], w[12 + e], 0x88);
    r[12 + e] = _mm512_mask_shuffle_f32x4(w[4 + e], kAll, w[4 + e], w[12 + e], 0xDD);
  }
}

// kt[c, j] = k[j, c] for j < n, 0 for n <= j < np, in 16x16 blocks transposed in registers.
[[gnu::target("avx512f")]] void transpose_keys(const AttentionTile& t, float* kt,
                                               std::int64_t np) noexcept {
  for (std::int64_t j = 0; j < np; j += kLanes) {
    const std::int64_t keys = std::min<std::int64_t>(kLanes, t.n - j);
    for (std::int64_t c = 0; c < t.dk; c += kLanes) {
      const __mmask16 channels = lanes_below(t.dk - c);
      __m512 r[kLanes];
#pragma GCC unroll 16
      for (int i = 0; i < kLanes; ++i) {
        r[i] = i < keys ? _mm512_maskz_loadu_ps(channels, t.k + (j + i) * t.k_stride + c)
                        : _mm512_setzero_ps();
      }
      transpose16(r);
      const std::int64_t count = std::min<std::int64_t>(kLanes, t.dk - c);
#pragma GCC unroll 16
      for (int e = 0; e < kLanes; ++e) {
        if (e < count) _mm512_store_ps(kt + (c + e) * np + j, r[e]);
      }
    }
  }
}

// Logits of R query rows (from row i0) and V vectors of keys (from column j): s = scale * q.k +
// bias, stored into s [R, np]; mx[r] takes the lane-wise maximum over the valid keys.
template <int R, int V>
[[gnu::target("avx512f")]] void scores_block(const AttentionTile& t, const float* kt,
                                             std::int64_t np, std::int64_t i0, std::int64_t j,
                                             float* s, __m512 (&mx)[kRows]) noexcept {
  __m512 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  const float* q = t.q + i0 * t.q_stride;
  const float* kc = kt + j;
  for (std::int64_t c = 0; c < t.dk; ++c, kc += np) {
    __m512 kv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) kv[v] = _mm512_load_ps(kc + v * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 qb = _mm512_set1_ps(q[r * t.q_stride + c]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(qb, kv[v], acc[r][v]);
    }
  }
  const __m512 scale = _mm512_set1_ps(t.scale);
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) {
    const std::int64_t col = j + v * kLanes;
    const __mmask16 valid = lanes_below(t.n - col);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      __m512 x = _mm512_mul_ps(acc[r][v], scale);
      if (t.bias != nullptr) {
        x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(valid, t.bias + (i0 + r) * t.bias_stride + col));
      }
      _mm512_store_ps(s + r * np + col, x);
      mx[r] = _mm512_mask_max_ps(mx[r], valid, mx[r], x);
    }
  }
}

// vt[j, :] = v[j, :] zero-padded to dvp floats: the P V pass then streams one contiguous,
// L2-resident block instead of n rows strided through a [tokens, 3, heads, d] buffer (a different
// page per key once the rows are 4 KB apart), once per block of query rows.
[[gnu::target("avx512f")]] void copy_values(const AttentionTile& t, float* vt,
                                            std::int64_t dvp) noexcept {
  for (std::int64_t j = 0; j < t.n; ++j) {
    const float* in = t.v + j * t.v_stride;
    for (std::int64_t c = 0; c < dvp; c += kLanes) {
      _mm512_store_ps(vt + j * dvp + c, _mm512_maskz_loadu_ps(lanes_below(t.dv - c), in + c));
    }
  }
}

// Below this many keys V is read in place: its rows stay in L1 across the row blocks, and the copy
// would cost more than it saves (measured: ~10% of a 49x49x32 tile).
constexpr std::int64_t kCopyValuesMinKeys = 128;

struct Work {
  const float* kt;  // [dk, np]
  const float* v;   // rows of V: vt [n, dvp] or the caller's
  std::int64_t v_stride;
  float* s;  // [kRows, np]
  std::int64_t np;
};

// O = P V for R rows and V vectors of dv (from column c0), scaled by inv[r] = 1 / row sum.
template <int R, int V>
[[gnu::target("avx512f")]] void values_block(const AttentionTile& t, const Work& w, std::int64_t i0,
                                             std::int64_t c0, const float (&inv)[kRows]) noexcept {
  __m512 acc[R][V];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) acc[r][v] = _mm512_setzero_ps();
  }
  __mmask16 mask[V];
#pragma GCC unroll 4
  for (int v = 0; v < V; ++v) mask[v] = lanes_below(t.dv - c0 - v * kLanes);
  const float* vrow = w.v + c0;
  for (std::int64_t j = 0; j < t.n; ++j, vrow += w.v_stride) {
    __m512 vv[V];
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) vv[v] = _mm512_maskz_loadu_ps(mask[v], vrow + v * kLanes);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512 p = _mm512_set1_ps(w.s[r * w.np + j]);
#pragma GCC unroll 4
      for (int v = 0; v < V; ++v) acc[r][v] = _mm512_fmadd_ps(p, vv[v], acc[r][v]);
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r) {
    const __m512 scale = _mm512_set1_ps(inv[r]);
    float* o = t.o + (i0 + r) * t.o_stride + c0;
#pragma GCC unroll 4
    for (int v = 0; v < V; ++v) {
      _mm512_mask_storeu_ps(o + v * kLanes, mask[v], _mm512_mul_ps(acc[r][v], scale));
    }
  }
}

// One block of R query rows through all three passes.
template <int R>
[[gnu::target("avx512f")]] void rows_block(const AttentionTile& t, const Work& w,
                                           std::int64_t i0) noexcept {
  const std::int64_t np = w.np;
  float* s = w.s;
  __m512 mx[kRows];
  for (int r = 0; r < R; ++r) mx[r] = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
  std::int64_t j = 0;
  for (; j + kMaxVectors * kLanes <= np; j += kMaxVectors * kLanes) {
    scores_block<R, kMaxVectors>(t, w.kt, np, i0, j, s, mx);
  }
  switch ((np - j) / kLanes) {
    case 3:
      scores_block<R, 3>(t, w.kt, np, i0, j, s, mx);
      break;
    case 2:
      scores_block<R, 2>(t, w.kt, np, i0, j, s, mx);
      break;
    case 1:
      scores_block<R, 1>(t, w.kt, np, i0, j, s, mx);
      break;
    default:
      break;
  }
  // exp and sum in one pass; the padded lanes of the last vector become 0 and are never read.
  float inv[kRows] = {};
  for (int r = 0; r < R; ++r) {
    const __m512 row_max = max_all_lanes(mx[r]);
    float* srow = s + r * np;
    __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    std::int64_t jj = 0;
    for (; jj + 2 * kLanes <= t.n; jj += 2 * kLanes) {
      const __m512 e0 = exp_ps(_mm512_sub_ps(_mm512_load_ps(srow + jj), row_max));
      const __m512 e1 = exp_ps(_mm512_sub_ps(_mm512_load_ps(srow + jj + kLanes), row_max));
      _mm512_store_ps(srow + jj, e0);
      _mm512_store_ps(srow + jj + kLanes, e1);
      sum0 = _mm512_add_ps(sum0, e0);
      sum1 = _mm512_add_ps(sum1, e1);
    }
    for (; jj < t.n; jj += kLanes) {
      const __mmask16 valid = lanes_below(t.n - jj);
      const __m512 e =
          _mm512_maskz_mov_ps(valid, exp_ps(_mm512_sub_ps(_mm512_load_ps(srow + jj), row_max)));
      _mm512_store_ps(srow + jj, e);
      sum0 = _mm512_add_ps(sum0, e);
    }
    inv[r] = 1.f / _mm512_cvtss_f32(sum_all_lanes(_mm512_add_ps(sum0, sum1)));
  }
  std::int64_t c0 = 0;
  // Full blocks of 4 vectors while more than 4 remain, then 1 .. 4 vectors, the last one masked.
  for (; t.dv - c0 > kMaxVectors * kLanes; c0 += kMaxVectors * kLanes) {
    values_block<R, kMaxVectors>(t, w, i0, c0, inv);
  }
  switch ((t.dv - c0 + kLanes - 1) / kLanes) {
    case 4:
      values_block<R, 4>(t, w, i0, c0, inv);
      break;
    case 3:
      values_block<R, 3>(t, w, i0, c0, inv);
      break;
    case 2:
      values_block<R, 2>(t, w, i0, c0, inv);
      break;
    case 1:
      values_block<R, 1>(t, w, i0, c0, inv);
      break;
    default:
      break;
  }
}

}  // namespace

bool attention_tile_has_avx512() noexcept { return __builtin_cpu_supports("avx512f"); }

[[gnu::target("avx512f")]] void attention_tile_avx512(const AttentionTile& t,
                                                      float* scratch) noexcept {
  const std::int64_t np = (t.n + kLanes - 1) / kLanes * kLanes;
  const std::int64_t dvp = (t.dv + kLanes - 1) / kLanes * kLanes;
  float* kt = scratch;
  float* vt = kt + t.dk * np;
  const bool copy = t.n >= kCopyValuesMinKeys;
  const Work w{.kt = kt,
               .v = copy ? vt : t.v,
               .v_stride = copy ? dvp : t.v_stride,
               .s = vt + np * dvp,
               .np = np};
  transpose_keys(t, kt, np);
  if (copy) copy_values(t, vt, dvp);
  // Full blocks, then the rest. (Balanced blocks, 49 = 4 x 6 + 5 x 5 instead of 8 x 6 + 1, measured
  // ~10% slower: the count of blocks is the same and 5-row register blocks use the FMA units less.)
  static_assert(kRows == 6, "the switch below covers 1 .. 5 remaining rows");
  std::int64_t i0 = 0;
  for (; i0 + kRows <= t.m; i0 += kRows) rows_block<kRows>(t, w, i0);
  switch (t.m - i0) {
    case 5:
      rows_block<5>(t, w, i0);
      break;
    case 4:
      rows_block<4>(t, w, i0);
      break;
    case 3:
      rows_block<3>(t, w, i0);
      break;
    case 2:
      rows_block<2>(t, w, i0);
      break;
    case 1:
      rows_block<1>(t, w, i0);
      break;
    default:
      break;
  }
}

}  // namespace hwnas::cpu::detail
