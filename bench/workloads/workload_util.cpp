#include "bench/workloads/workload_util.hpp"

namespace hwnas {
namespace {
Tensor uniform(const Shape& shape, std::mt19937_64& rng, float lo, float hi) {
  Tensor t = Tensor::empty(shape);
  std::uniform_real_distribution<float> dist(lo, hi);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = dist(rng);
  return t;
}
}  // namespace

Tensor random_tensor(const Shape& shape, std::mt19937_64& rng) { return uniform(shape, rng, -1.f, 1.f); }
Tensor positive_tensor(const Shape& shape, std::mt19937_64& rng) { return uniform(shape, rng, 0.5f, 1.5f); }

}  // namespace hwnas
