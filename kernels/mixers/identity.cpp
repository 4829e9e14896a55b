#include "kernels/mixers/identity.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/reference/identity_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "identity";

// A copy is exact; the contract needs a positive tolerance, and any wrong element is off by ~1.
constexpr double kTolerance = 1e-7;

}  // namespace

std::span<const ParamSpec> identity_params() {
  static const std::vector<ParamSpec> kSpecs = mixer_shape_params();
  return kSpecs;
}

std::string to_string(const IdentityDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)}});
}

IdentityDesc identity_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const IdentityDesc d{.n = s.n, .h = s.h, .w = s.w, .c = s.c};
  check(d);
  return d;
}

void check(const IdentityDesc& d) {
  for (const auto& [name, v] : {std::pair{"n", d.n}, {"h", d.h}, {"w", d.w}, {"c", d.c}}) {
    if (v < 1) {
      throw InvalidArgument(
          fmt::format("{}: {}={} must be >= 1 [{}]", kName, name, v, to_string(d)));
    }
  }
}

OpCost cost(const IdentityDesc& d) {
  return {.flops = 0, .bytes = 4.0 * 2 * static_cast<double>(d.n * d.h * d.w * d.c), .params = 0};
}

std::vector<WeightSpec> weight_specs(const IdentityDesc&) { return {}; }

IdentityPlan IdentityPlan::create(const Engine& engine, const IdentityDesc& d,
                                  const MixerWeights& weights) {
  check(d);
  check_weights(to_string(d), weight_specs(d), weights);
  return IdentityPlan(d, engine.threads());
}

void IdentityPlan::run(ConstTensorView src, TensorView dst) const {
  const Shape shape = {desc_.n, desc_.h, desc_.w, desc_.c};
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == shape);
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == shape);
  const std::int64_t numel = shape.numel();
  // One chunk per thread: a copy is bandwidth-bound, and one core does not saturate it.
  const std::int64_t chunk = (numel + threads_ - 1) / threads_;
  const float* from = src.f32();
  float* to = dst.f32();
#pragma omp parallel for num_threads(threads_) schedule(static)
  for (int part = 0; part < threads_; ++part) {
    const std::int64_t begin = std::min(numel, part * chunk);
    const std::int64_t end = std::min(numel, begin + chunk);
    if (end > begin) {
      std::memcpy(to + begin, from + begin, static_cast<std::size_t>(end - begin) * sizeof(float));
    }
  }
}

MixerEntry identity_entry() {
  return make_mixer_entry<IdentityDesc, IdentityPlan>(
      std::string(kName), "IdentityFormer baseline: dst = src (no weights)", identity_params(),
      identity_desc_from, reference::identity, kTolerance);
}

}  // namespace hwnas
