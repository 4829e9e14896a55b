#include "kernels/cpu/attention_tile.hpp"

#include <algorithm>
#include <cmath>

namespace hwnas::cpu {
namespace {

// Portable path: S = scale * Q K^T (+ bias), row softmax, O = P V. Loops are ordered so the
// compiler can vectorise the inner one (contiguous rows).
void attention_tile_generic(const AttentionTile& t, float* scratch) noexcept {
  float* s = scratch;  // [m, n]
  for (std::int64_t i = 0; i < t.m; ++i) {
    const float* q = t.q + i * t.q_stride;
    float* srow = s + i * t.n;
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

}  // namespace

std::int64_t attention_tile_scratch_floats(std::int64_t m, std::int64_t n, std::int64_t dk,
                                           std::int64_t dv) {
  (void)dk;
  (void)dv;
  return m * n + 16;
}

void attention_tile(const AttentionTile& tile, float* scratch) noexcept {
  attention_tile_generic(tile, scratch);
}

const char* attention_tile_impl() noexcept { return "generic"; }

}  // namespace hwnas::cpu
