#include "kernels/cpu/attention_tile.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/cpu/attention_tile_impl.hpp"

namespace hwnas::cpu {
namespace detail {

// Portable path: one query row at a time, S = scale * q K^T (+ bias), softmax, o = p V. Loops are
// ordered so the compiler can vectorise the inner one (contiguous rows).
void attention_tile_generic(const AttentionTile& t, float* scratch) noexcept {
  float* srow = scratch;  // [n]
  for (std::int64_t i = 0; i < t.m; ++i) {
    const float* q = t.q + i * t.q_stride;
    float row_max = -INFINITY;
    for (std::int64_t j = 0; j < t.n; ++j) {
      const float* k = t.k + j * t.k_stride;
      float dot = 0.f;
      for (std::int64_t c = 0; c < t.dk; ++c) dot += q[c] * k[c];
      float logit = t.scale * dot;
      if (t.bias != nullptr) logit += t.bias[i * t.bias_stride + j];
      srow[j] = logit;
      row_max = std::max(row_max, logit);
    }
    float sum = 0.f;
    for (std::int64_t j = 0; j < t.n; ++j) {
      srow[j] = std::exp(srow[j] - row_max);
      sum += srow[j];
    }
    const float inv = 1.f / sum;
    float* o = t.o + i * t.o_stride;
    for (std::int64_t c = 0; c < t.dv; ++c) o[c] = 0.f;
    for (std::int64_t j = 0; j < t.n; ++j) {
      const float p = srow[j] * inv;
      const float* v = t.v + j * t.v_stride;
      for (std::int64_t c = 0; c < t.dv; ++c) o[c] += p * v[c];
    }
  }
}

}  // namespace detail

std::int64_t attention_tile_scratch_floats(std::int64_t m, std::int64_t n, std::int64_t dk,
                                           std::int64_t dv) {
  (void)m;
  // The AVX-512 layout (attention_tile_impl.hpp); the generic path needs n <= this.
  const std::int64_t np = (n + 15) / 16 * 16;
  const std::int64_t dvp = (dv + 15) / 16 * 16;
  return (dk + dvp + detail::kAttentionRowBlock) * np;
}

void attention_tile(const AttentionTile& tile, float* scratch) noexcept {
  static const bool avx512 = detail::attention_tile_has_avx512();
  if (avx512) {
    detail::attention_tile_avx512(tile, scratch);
  } else {
    detail::attention_tile_generic(tile, scratch);
  }
}

const char* attention_tile_impl() noexcept {
  return detail::attention_tile_has_avx512() ? "avx512" : "generic";
}

}  // namespace hwnas::cpu
