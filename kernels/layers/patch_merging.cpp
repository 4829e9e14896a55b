#include "kernels/layers/patch_merging.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/ops/layer_norm.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/patch_merging_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "patch_merging";

// Test tolerance, relative to max(magnitude of the reduction's dot product, 1). The gather is
// exact; the LayerNorm is off by <= 1e-5 relative + 1e-6 (the reduction tier of STYLE.md §6), which
// the reduction carries as <= 1e-5 of its magnitude; the reduction itself adds 2 gamma(4c +
// 1): 4.6e-5 at c = 96, 9.2e-5 at c = 192. 1.5e-4 covers c <= 192 by the worst-case bound (the
// tested sizes); wider stages exceed the worst-case bound but not the random-sign error (~sqrt(4c)
// u, observed ~1e-7). A swapped x1/x2 or a missed pad changes outputs by >= 1e-2 of the magnitude.
constexpr double kTolerance = 1.5e-4;

std::int64_t half_up(std::int64_t v) { return (v + 1) / 2; }

}  // namespace

std::span<const ParamSpec> patch_merging_params() {
  static const std::vector<ParamSpec> kSpecs = mixer_shape_params();
  return kSpecs;
}

std::string to_string(const PatchMergingDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)}});
}

PatchMergingDesc patch_merging_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const PatchMergingDesc d{.n = s.n, .h = s.h, .w = s.w, .c = s.c};
  check(d);
  return d;
}

void check(const PatchMergingDesc& d) {
  for (const auto& [field, v] : {std::pair{"n", d.n}, {"h", d.h}, {"w", d.w}, {"c", d.c}}) {
    if (v < 1)
      throw InvalidArgument(
          fmt::format("{}: {}={} must be >= 1 [{}]", kName, field, v, to_string(d)));
  }
}

Shape src_shape(const PatchMergingDesc& d) { return {d.n, d.h, d.w, d.c}; }
Shape dst_shape(const PatchMergingDesc& d) { return {d.n, half_up(d.h), half_up(d.w), 2 * d.c}; }

std::vector<WeightSpec> weight_specs(const PatchMergingDesc& d) {
  // The 4c channels are the four 2x2 neighbours' c channels side by side: each sliced on its own.
  const std::int64_t c = d.c;
  const std::vector<std::int64_t> parts = {c, c, c, c};
  return {with_segments({"norm.weight", {4 * c}, WeightKind::NormScale}, 0, parts),
          with_segments({"norm.bias", {4 * c}, WeightKind::NormShift}, 0, parts),
          with_segments({"reduction.weight", {2 * c, 4 * c}, WeightKind::Matrix}, 1, parts)};
}

OpCost cost(const PatchMergingDesc& d) {
  const double t = static_cast<double>(d.n * half_up(d.h) * half_up(d.w)),
               c = static_cast<double>(d.c);
  const std::int64_t params = 8 * d.c + 8 * d.c * d.c;
  return {.flops = 2 * t * 4 * c * 2 * c,
          .bytes = 4.0 * (static_cast<double>(d.n * d.h * d.w) * c + t * 2 * c +
                          static_cast<double>(params)),
          .params = params};
}

struct PatchMergingPlan::State {
  PatchMergingDesc desc;
  int threads = 1;
  std::optional<LayerNormPlan> norm;
  std::optional<LinearPlan> reduction;
  Tensor gathered;  // [n, oh, ow, 4c]
  std::string impl;
};

PatchMergingPlan::PatchMergingPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
PatchMergingPlan::PatchMergingPlan(PatchMergingPlan&&) noexcept = default;
PatchMergingPlan& PatchMergingPlan::operator=(PatchMergingPlan&&) noexcept = default;
PatchMergingPlan::~PatchMergingPlan() = default;

PatchMergingPlan PatchMergingPlan::create(const Engine& engine, const PatchMergingDesc& d,
                                          const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const Shape out = dst_shape(d);
  const std::int64_t t = out[0] * out[1] * out[2];
  auto s = std::make_unique<State>();
  s->desc = d;
  s->threads = engine.threads();
  const Tensor g = Tensor::copy_of(weights.get("norm.weight", key));
  const Tensor b = Tensor::copy_of(weights.get("norm.bias", key));
  const Tensor w = Tensor::copy_of(weights.get("reduction.weight", key));
  s->norm.emplace(
      LayerNormPlan::create(engine, {.rows = t, .c = 4 * d.c, .eps = 1e-5f}, g.cview(), b.cview()));
  s->reduction.emplace(LinearPlan::create(
      engine, {.m = t, .k = 4 * d.c, .n = 2 * d.c, .bias = Bias::None}, w.cview()));
  s->gathered = Tensor::empty({out[0], out[1], out[2], 4 * d.c});
  s->impl = fmt::format("hand:gather+{}+{}", s->norm->impl_name(), s->reduction->impl_name());
  return PatchMergingPlan(std::move(s));
}

void PatchMergingPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const PatchMergingDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == src_shape(d));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == dst_shape(d));
  const std::int64_t oh = half_up(d.h), ow = half_up(d.w), c = d.c;
  const float* x = src.f32();
  float* g = s.gathered.f32();
  const auto bytes = static_cast<std::size_t>(c) * sizeof(float);
  // torchvision's order: (dy, dx) = (0, 0), (1, 0), (0, 1), (1, 1); rows or columns past the map
  // are the zero padding.
  constexpr std::int64_t kDy[] = {0, 1, 0, 1}, kDx[] = {0, 0, 1, 1};
#pragma omp parallel for collapse(2) num_threads(s.threads) schedule(static)
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t i = 0; i < oh; ++i) {
      for (std::int64_t j = 0; j < ow; ++j) {
        float* out = g + ((b * oh + i) * ow + j) * 4 * c;
        for (int q = 0; q < 4; ++q) {
          const std::int64_t y = 2 * i + kDy[q], xx = 2 * j + kDx[q];
          if (y < d.h && xx < d.w) {
            std::memcpy(out + q * c, x + ((b * d.h + y) * d.w + xx) * c, bytes);
          } else {
            std::memset(out + q * c, 0, bytes);
          }
        }
      }
    }
  }
  s.norm->run(s.gathered.cview(), s.gathered.view());
  s.reduction->run(s.gathered.cview(), dst);
}

std::string_view PatchMergingPlan::impl_name() const { return state_->impl; }

LayerEntry patch_merging_layer_entry() {
  return make_layer_entry<PatchMergingDesc, PatchMergingPlan>(
      std::string(kName),
      "Swin/torchvision patch merging: 2x2 concat, LayerNorm(4c), Linear 4c->2c",
      patch_merging_params(), patch_merging_desc_from, reference::patch_merging, kTolerance);
}

}  // namespace hwnas
