#include "kernels/cpu/linear_attention_kernels.hpp"

#include <immintrin.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/avx512_math.hpp"

namespace hwnas::cpu {
namespace {

constexpr std::int64_t kLanes = 16;
// Rows of KV (or tokens of the output) one register block holds: 4 x (d/16) accumulators, 16 zmm
// at d = 64, with room left for the broadcasts.
constexpr std::int64_t kBlock = 4;

// ---- portable ----------------------------------------------------------------------------------

void feature_map_generic(FeatureMap map, float* x, std::int64_t count) noexcept {
  if (map == FeatureMap::Relu) {
    for (std::int64_t i = 0; i < count; ++i) x[i] = std::max(x[i], 0.f);
  } else {
    for (std::int64_t i = 0; i < count; ++i) x[i] = x[i] > 0.f ? x[i] + 1.f : std::exp(x[i]);
  }
}

void kv_generic(const float* k, std::int64_t ks, const float* v, std::int64_t vs,
                std::int64_t tokens, std::int64_t d, float* kv, float* z) noexcept {
  std::fill(kv, kv + d * d, 0.f);
  std::fill(z, z + d, 0.f);
  for (std::int64_t t = 0; t < tokens; ++t) {
    const float* kt = k + t * ks;
    const float* vt = v + t * vs;
    for (std::int64_t i = 0; i < d; ++i) {
      const float a = kt[i];
      z[i] += a;
      float* row = kv + i * d;
      for (std::int64_t j = 0; j < d; ++j) row[j] += a * vt[j];
    }
  }
}

void apply_generic(const float* q, std::int64_t qs, const float* kv, const float* z,
                   std::int64_t tokens, std::int64_t d, float eps, float* out, std::int64_t os,
                   Accumulate accumulate) noexcept {
  constexpr std::int64_t kChunk = 64;  // output columns accumulated at once, so j is innermost
  for (std::int64_t t = 0; t < tokens; ++t) {
    const float* qt = q + t * qs;
    float* o = out + t * os;
    float den = eps;
    for (std::int64_t i = 0; i < d; ++i) den += qt[i] * z[i];
    for (std::int64_t j0 = 0; j0 < d; j0 += kChunk) {
      const std::int64_t width = std::min(kChunk, d - j0);
      float num[kChunk] = {};
      for (std::int64_t i = 0; i < d; ++i) {
        const float a = qt[i];
        const float* row = kv + i * d + j0;
        for (std::int64_t j = 0; j < width; ++j) num[j] += a * row[j];
      }
      for (std::int64_t j = 0; j < width; ++j) {
        o[j0 + j] = accumulate == Accumulate::Yes ? o[j0 + j] + num[j] / den : num[j] / den;
      }
    }
  }
}

// ---- AVX-512 -----------------------------------------------------------------------------------

[[gnu::target("avx512f")]] void feature_map_avx512(FeatureMap map, float* x,
                                                   std::int64_t count) noexcept {
  const __m512 zero = _mm512_setzero_ps(), one = _mm512_set1_ps(1.f);
  // All-ones masked max/min: GCC 12's plain forms trip -Wmaybe-uninitialized (avx512_math.hpp).
  const auto all = static_cast<__mmask16>(0xFFFF);
  for (std::int64_t i = 0; i < count; i += kLanes) {
    const auto lanes =
        static_cast<__mmask16>(count - i >= kLanes ? 0xFFFFu : (1u << (count - i)) - 1u);
    const __m512 a = _mm512_maskz_loadu_ps(lanes, x + i);
    __m512 r;
    if (map == FeatureMap::Relu) {
      r = _mm512_maskz_max_ps(all, a, zero);
    } else {
      const __mmask16 positive = _mm512_cmp_ps_mask(a, zero, _CMP_GT_OQ);
      r = _mm512_mask_add_ps(exp_ps(_mm512_maskz_min_ps(all, a, zero)), positive, a, one);
    }
    _mm512_mask_storeu_ps(x + i, lanes, r);
  }
}

// V = d / 16 vectors per row.
template <int V>
[[gnu::target("avx512f")]] void kv_avx512(const float* k, std::int64_t ks, const float* v,
                                          std::int64_t vs, std::int64_t tokens, float* kv,
                                          float* z) noexcept {
  constexpr std::int64_t d = V * kLanes;
  for (std::int64_t i0 = 0; i0 < d; i0 += kBlock) {
    __m512 acc[kBlock][V];
    float zacc[kBlock] = {};
    for (auto& row : acc) {
      for (__m512& a : row) a = _mm512_setzero_ps();
    }
    for (std::int64_t t = 0; t < tokens; ++t) {
      const float* kt = k + t * ks + i0;
      const float* vt = v + t * vs;
      __m512 vv[V];
      for (int u = 0; u < V; ++u) vv[u] = _mm512_loadu_ps(vt + u * kLanes);
      for (std::int64_t r = 0; r < kBlock; ++r) {
        const __m512 b = _mm512_set1_ps(kt[r]);
        zacc[r] += kt[r];
        for (int u = 0; u < V; ++u) acc[r][u] = _mm512_fmadd_ps(b, vv[u], acc[r][u]);
      }
    }
    for (std::int64_t r = 0; r < kBlock; ++r) {
      for (int u = 0; u < V; ++u) _mm512_storeu_ps(kv + (i0 + r) * d + u * kLanes, acc[r][u]);
      z[i0 + r] = zacc[r];
    }
  }
}

template <int V>
[[gnu::target("avx512f")]] void apply_avx512(const float* q, std::int64_t qs, const float* kv,
                                             const float* z, std::int64_t tokens, float eps,
                                             float* out, std::int64_t os,
                                             Accumulate accumulate) noexcept {
  constexpr std::int64_t d = V * kLanes;
  __m512 zv[V];
  for (int u = 0; u < V; ++u) zv[u] = _mm512_loadu_ps(z + u * kLanes);
  for (std::int64_t t0 = 0; t0 < tokens; t0 += kBlock) {
    const std::int64_t rows = std::min(kBlock, tokens - t0);
    // A partial block repeats its last token; only `rows` results are stored.
    const float* qr[kBlock];
    for (std::int64_t r = 0; r < kBlock; ++r) qr[r] = q + (t0 + std::min(r, rows - 1)) * qs;
    __m512 acc[kBlock][V];
    for (auto& row : acc) {
      for (__m512& a : row) a = _mm512_setzero_ps();
    }
    for (std::int64_t i = 0; i < d; ++i) {
      __m512 kvrow[V];
      for (int u = 0; u < V; ++u) kvrow[u] = _mm512_loadu_ps(kv + i * d + u * kLanes);
      for (std::int64_t r = 0; r < kBlock; ++r) {
        const __m512 b = _mm512_set1_ps(qr[r][i]);
        for (int u = 0; u < V; ++u) acc[r][u] = _mm512_fmadd_ps(b, kvrow[u], acc[r][u]);
      }
    }
    for (std::int64_t r = 0; r < rows; ++r) {
      __m512 den = _mm512_setzero_ps();
      for (int u = 0; u < V; ++u) {
        den = _mm512_fmadd_ps(_mm512_loadu_ps(qr[r] + u * kLanes), zv[u], den);
      }
      den = _mm512_add_ps(sum_all_lanes(den), _mm512_set1_ps(eps));
      float* o = out + (t0 + r) * os;
      for (int u = 0; u < V; ++u) {
        __m512 result = _mm512_div_ps(acc[r][u], den);
        if (accumulate == Accumulate::Yes) {
          result = _mm512_add_ps(result, _mm512_loadu_ps(o + u * kLanes));
        }
        _mm512_storeu_ps(o + u * kLanes, result);
      }
    }
  }
}

bool has_avx512() noexcept { return __builtin_cpu_supports("avx512f"); }

}  // namespace

void linear_attention_feature_map(FeatureMap map, float* x, std::int64_t count) noexcept {
  if (has_avx512()) {
    feature_map_avx512(map, x, count);
  } else {
    feature_map_generic(map, x, count);
  }
}

void linear_attention_kv(const float* k, std::int64_t k_stride, const float* v,
                         std::int64_t v_stride, std::int64_t tokens, std::int64_t d, float* kv,
                         float* z) noexcept {
  if (has_avx512()) {
    switch (d) {
      case 16:
        return kv_avx512<1>(k, k_stride, v, v_stride, tokens, kv, z);
      case 32:
        return kv_avx512<2>(k, k_stride, v, v_stride, tokens, kv, z);
      case 48:
        return kv_avx512<3>(k, k_stride, v, v_stride, tokens, kv, z);
      case 64:
        return kv_avx512<4>(k, k_stride, v, v_stride, tokens, kv, z);
      default:
        break;
    }
  }
  kv_generic(k, k_stride, v, v_stride, tokens, d, kv, z);
}

void linear_attention_apply(const float* q, std::int64_t q_stride, const float* kv, const float* z,
                            std::int64_t tokens, std::int64_t d, float eps, float* out,
                            std::int64_t out_stride, Accumulate accumulate) noexcept {
  if (has_avx512()) {
    switch (d) {
      case 16:
        return apply_avx512<1>(q, q_stride, kv, z, tokens, eps, out, out_stride, accumulate);
      case 32:
        return apply_avx512<2>(q, q_stride, kv, z, tokens, eps, out, out_stride, accumulate);
      case 48:
        return apply_avx512<3>(q, q_stride, kv, z, tokens, eps, out, out_stride, accumulate);
      case 64:
        return apply_avx512<4>(q, q_stride, kv, z, tokens, eps, out, out_stride, accumulate);
      default:
        break;
    }
  }
  apply_generic(q, q_stride, kv, z, tokens, d, eps, out, out_stride, accumulate);
}

const char* linear_attention_kernels_impl() noexcept { return has_avx512() ? "avx512" : "generic"; }

}  // namespace hwnas::cpu
