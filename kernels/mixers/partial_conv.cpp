#include "kernels/mixers/partial_conv.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/reference/partial_conv_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "partial_conv";

// Test tolerance, relative to max(sum |w*x| over the 9*cp taps, 1) (pass-through channels are
// exact): a dot product of 9*cp terms, 2*gamma(9*cp + 1) in any order, = 2.6e-5 at the contract
// size (c = 96, cp = 24) and 2.06e-4 at stage 4 (c = 768, cp = 192), the widest FasterNet conv
// this bound is stated for. The direct algorithm is pinned (Winograd's error exceeds this bound).
// A wrong tap or channel moves an output by ~|w*x| ~ magnitude / (9*cp) >= 5.8e-4 of it, and the
// mixer's own tests use the bound of each shape's cp.
constexpr double kTolerance = 2.1e-4;

}  // namespace

std::span<const ParamSpec> partial_conv_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "n_div",
                 .default_value = "4",
                 .min = 1,
                 .max = 1 << 16,
                 .help = "the 3x3 conv sees c / n_div channels (FasterNet: 4)"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const PartialConvDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)},
                          {"n_div", std::to_string(d.n_div)}});
}

PartialConvDesc partial_conv_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const PartialConvDesc d{.n = s.n, .h = s.h, .w = s.w, .c = s.c, .n_div = p.integer("n_div")};
  check(d);
  return d;
}

std::int64_t partial_conv_channels(const PartialConvDesc& d) { return d.c / d.n_div; }

void check(const PartialConvDesc& d) {
  for (const auto& [name, v] :
       {std::pair{"n", d.n}, {"h", d.h}, {"w", d.w}, {"c", d.c}, {"n_div", d.n_div}}) {
    if (v < 1) {
      throw InvalidArgument(
          fmt::format("{}: {}={} must be >= 1 [{}]", kName, name, v, to_string(d)));
    }
  }
  if (partial_conv_channels(d) < 1) {
    throw InvalidArgument(
        fmt::format("{}: n_div={} leaves no channel for the conv: c / n_div = {} / {} = 0 [{}]",
                    kName, d.n_div, d.c, d.n_div, to_string(d)));
  }
}

OpCost cost(const PartialConvDesc& d) {
  const double pixels = static_cast<double>(d.n * d.h * d.w);
  const std::int64_t cp = partial_conv_channels(d), params = 9 * cp * cp;
  return {.flops = 2 * pixels * static_cast<double>(params),
          .bytes = 4.0 * (2 * pixels * static_cast<double>(d.c) + static_cast<double>(params)),
          .params = params};
}

std::vector<WeightSpec> weight_specs(const PartialConvDesc& d) {
  const std::int64_t cp = partial_conv_channels(d);
  return {{"partial_conv3.weight", {cp, cp, 3, 3}, WeightKind::Matrix}};
}

struct PartialConvPlan::State {
  PartialConvDesc desc;
  int threads = 1;
  Conv2dPlan conv;
  Tensor part;  // [n, h, w, cp]: the conv's input
  Tensor out;   // [n, h, w, cp]: its output
  std::string impl;
};

PartialConvPlan::PartialConvPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
PartialConvPlan::PartialConvPlan(PartialConvPlan&&) noexcept = default;
PartialConvPlan& PartialConvPlan::operator=(PartialConvPlan&&) noexcept = default;
PartialConvPlan::~PartialConvPlan() = default;

PartialConvPlan PartialConvPlan::create(const Engine& engine, const PartialConvDesc& d,
                                        const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const std::int64_t cp = partial_conv_channels(d);
  const Conv2dDesc conv{.n = d.n,
                        .h = d.h,
                        .w = d.w,
                        .ic = cp,
                        .oc = cp,
                        .kh = 3,
                        .kw = 3,
                        .pad_h = 1,
                        .pad_w = 1,
                        .bias = Bias::None};
  auto s = std::make_unique<State>(State{
      .desc = d,
      .threads = engine.threads(),
      .conv = Conv2dPlan::create(engine, conv, weights.get("partial_conv3.weight", key), {},
                                 {.onednn_algorithm = ConvAlgorithm::Direct}),
      .part = Tensor::empty({d.n, d.h, d.w, cp}),
      .out = Tensor::empty({d.n, d.h, d.w, cp}),
      .impl = {},
  });
  s->impl = fmt::format("{}+copy", s->conv.impl_name());
  return PartialConvPlan(std::move(s));
}

void PartialConvPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const PartialConvDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == Shape({d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == Shape({d.n, d.h, d.w, d.c}));
  const std::int64_t pixels = d.n * d.h * d.w, c = d.c, cp = partial_conv_channels(d);
  const float* in = src.f32();
  float* part = s.part.f32();
#pragma omp parallel for num_threads(s.threads) schedule(static)
  for (std::int64_t p = 0; p < pixels; ++p) {
    std::copy(in + p * c, in + p * c + cp, part + p * cp);
  }
  s.conv.run(s.part.cview(), s.out.view());
  const float* conv_out = s.out.f32();
  float* out = dst.f32();
#pragma omp parallel for num_threads(s.threads) schedule(static)
  for (std::int64_t p = 0; p < pixels; ++p) {
    std::copy(conv_out + p * cp, conv_out + (p + 1) * cp, out + p * c);
    std::copy(in + p * c + cp, in + (p + 1) * c, out + p * c + cp);
  }
}

std::string_view PartialConvPlan::impl_name() const { return state_->impl; }

MixerEntry partial_conv_entry() {
  return make_mixer_entry<PartialConvDesc, PartialConvPlan>(
      std::string(kName),
      "FasterNet partial conv: dense 3x3 on the first c / n_div channels, the rest untouched",
      partial_conv_params(), partial_conv_desc_from, reference::partial_conv, kTolerance);
}

}  // namespace hwnas
