#include "kernels/mixers/neighborhood_attention.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/matmul.hpp"
#include "kernels/reference/neighborhood_attention_ref.hpp"

namespace hwnas {

namespace {

// |got - ref| <= kTolerance * max(magnitude, 1), magnitude that of proj. The chain, each step's
// relative error bound (u = 2^-24, gamma(n) = n*u/(1-n*u)), for c <= 768, head_dim <= 128, kernel
// <= 13: qkv dot products gamma(c+1) <= 4.6e-5 of their magnitudes; logits gamma(head_dim+1) <=
// 7.7e-6 of sum |q k| (a logit error e scales p by e^e, ~e relative); exp ~3 ulp; p.v over
// kernel^2 <= 169 terms gamma(170) <= 1.0e-5; 1/sum and the normalisation 2 ulp; proj gamma(c+1)
// <= 4.6e-5 of its magnitude. With unit-scale inputs (|x| <= 1, Linear weights within 1/sqrt(c),
// |rpb| <= 1) q, k, v and the logits stay below ~3, so the sum is ~1.5e-4; doubled for v's error
// reaching proj through weights of norm up to 1. Observed: every test passes at 2e-6, so this is
// the worst-case bound, not the typical error; a wrong window, bias entry or border rule moves
// outputs by 1e-2 or more and fails.
constexpr double kTolerance = 3e-4;

constexpr std::int64_t kMaxHeads = 4096;
constexpr std::int64_t kMaxKernel = 63;
constexpr std::int64_t kMaxDilation = 1 << 14;

}  // namespace

std::span<const ParamSpec> neighborhood_attention_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> specs = mixer_shape_params();
    specs.push_back({.name = "heads",
                     .default_value = "3",
                     .min = 1,
                     .max = kMaxHeads,
                     .help = "attention heads (divides c)"});
    specs.push_back({.name = "kernel",
                     .default_value = "7",
                     .min = 1,
                     .max = kMaxKernel,
                     .help = "neighborhood size per axis (odd, >= 3)"});
    specs.push_back({.name = "dilation",
                     .default_value = "1",
                     .min = 1,
                     .max = kMaxDilation,
                     .help = "dilation (DiNAT)"});
    specs.push_back(
        {.name = "qkv_bias", .default_value = "1", .min = 0, .max = 1, .help = "qkv Linear bias"});
    specs.push_back({.name = "rel_pos",
                     .default_value = "1",
                     .min = 0,
                     .max = 1,
                     .help = "relative position bias rpb [heads, 2k-1, 2k-1]"});
    specs.push_back({.name = "pad",
                     .default_value = "0",
                     .min = 0,
                     .max = 1,
                     .help = "zero-pad maps smaller than kernel*dilation (NAT/DiNAT modules)"});
    return specs;
  }();
  return kSpecs;
}

std::string to_string(const NeighborhoodAttentionDesc& d) {
  return make_key("neighborhood_attention", {{"n", std::to_string(d.n)},
                                             {"h", std::to_string(d.h)},
                                             {"w", std::to_string(d.w)},
                                             {"c", std::to_string(d.c)},
                                             {"heads", std::to_string(d.heads)},
                                             {"kernel", std::to_string(d.kernel)},
                                             {"dilation", std::to_string(d.dilation)},
                                             {"qkv_bias", d.qkv_bias == Bias::Add ? "1" : "0"},
                                             {"rel_pos", d.rel_pos ? "1" : "0"},
                                             {"pad", d.pad ? "1" : "0"}});
}

NeighborhoodAttentionDesc neighborhood_attention_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  NeighborhoodAttentionDesc d{.n = s.n,
                              .h = s.h,
                              .w = s.w,
                              .c = s.c,
                              .heads = p.integer("heads"),
                              .kernel = p.integer("kernel"),
                              .dilation = p.integer("dilation"),
                              .qkv_bias = p.integer("qkv_bias") != 0 ? Bias::Add : Bias::None,
                              .rel_pos = p.integer("rel_pos") != 0,
                              .pad = p.integer("pad") != 0};
  check(d);
  return d;
}

void check(const NeighborhoodAttentionDesc& d) {
  const std::string key = to_string(d);
  const auto fail = [&](const std::string& what) {
    throw InvalidArgument(fmt::format("neighborhood_attention: {} [{}]", what, key));
  };
  if (d.n < 1 || d.h < 1 || d.w < 1 || d.c < 1) {
    fail(fmt::format("n={}, h={}, w={}, c={} must all be >= 1", d.n, d.h, d.w, d.c));
  }
  if (d.heads < 1 || d.c % d.heads != 0) {
    fail(fmt::format("heads={} must be >= 1 and divide c={}", d.heads, d.c));
  }
  if (d.kernel % 2 == 0) fail(fmt::format("kernel={} must be odd", d.kernel));
  if (d.kernel < 3) fail(fmt::format("kernel={} must be >= 3 (NATTEN's rule)", d.kernel));
  if (d.dilation < 1) fail(fmt::format("dilation={} must be >= 1", d.dilation));
  if (!d.pad) {
    // Each dilation group along an axis has at least floor(size / dilation) pixels and must hold a
    // whole window: kernel * dilation <= size (NATTEN's check).
    const std::int64_t side = std::min(d.h, d.w);
    if (d.kernel > side) {
      fail(
          fmt::format("kernel={} larger than the map h={}, w={} (pad=1 pads small maps as NAT "
                      "does)",
                      d.kernel, d.h, d.w));
    }
    if (d.kernel * d.dilation > side) {
      fail(
          fmt::format("dilation*kernel larger than the map: dilation={} * kernel={} = {} > "
                      "min(h={}, w={}) (every dilation group needs kernel pixels; pad=1 pads "
                      "small maps as DiNAT does)",
                      d.dilation, d.kernel, d.dilation * d.kernel, d.h, d.w));
    }
  }
}

std::int64_t neighborhood_attention_map_h(const NeighborhoodAttentionDesc& d) {
  return d.pad ? std::max(d.h, d.kernel * d.dilation) : d.h;
}
std::int64_t neighborhood_attention_map_w(const NeighborhoodAttentionDesc& d) {
  return d.pad ? std::max(d.w, d.kernel * d.dilation) : d.w;
}

std::vector<WeightSpec> weight_specs(const NeighborhoodAttentionDesc& d) {
  const std::int64_t c = d.c;
  std::vector<WeightSpec> specs = {
      with_segments({"qkv.weight", {3 * c, c}, WeightKind::Matrix}, 0, {c, c, c})};
  if (d.qkv_bias == Bias::Add) {
    specs.push_back(with_segments({"qkv.bias", {3 * c}, WeightKind::Bias}, 0, {c, c, c}));
  }
  if (d.rel_pos) {
    const std::int64_t table = 2 * d.kernel - 1;
    // Indexed by dy + k-1 and dx + k-1: a smaller kernel's table is the centre.
    WeightSpec rpb{"rpb", {d.heads, table, table}, WeightKind::Table};
    specs.push_back(
        with_rule(with_rule(std::move(rpb), 1, SliceRule::Centre), 2, SliceRule::Centre));
  }
  specs.push_back({"proj.weight", {d.c, d.c}, WeightKind::Matrix});
  specs.push_back({"proj.bias", {d.c}, WeightKind::Bias});
  return specs;
}

OpCost cost(const NeighborhoodAttentionDesc& d) {
  const auto as_double = [](std::int64_t v) { return static_cast<double>(v); };
  const double c = as_double(d.c), k2 = as_double(d.kernel * d.kernel);
  const double map_tokens =
      as_double(d.n * neighborhood_attention_map_h(d) * neighborhood_attention_map_w(d));
  const double tokens = as_double(d.n * d.h * d.w);
  std::int64_t params = 0;
  for (const WeightSpec& spec : weight_specs(d)) params += spec.shape.numel();
  return {.flops = 2 * map_tokens * c * 3 * c + 2 * 2 * tokens * k2 * c + 2 * tokens * c * c,
          .bytes = 4 * (2 * tokens * c + as_double(params)),
          .params = params};
}

struct NeighborhoodAttentionPlan::State {
  NeighborhoodAttentionDesc desc;
  std::int64_t map_h = 0, map_w = 0;
  LinearPlan qkv, proj;
  cpu::NeighborhoodAttentionCore core;
  Tensor padded;   // [n, map_h, map_w, c], zero outside the map (pad=1 on a small map only)
  Tensor qkv_out;  // [n * map_h * map_w, 3c]
  Tensor attn;     // [n * h * w, c]
  std::string impl;
};

NeighborhoodAttentionPlan::NeighborhoodAttentionPlan(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
NeighborhoodAttentionPlan::NeighborhoodAttentionPlan(NeighborhoodAttentionPlan&&) noexcept =
    default;
NeighborhoodAttentionPlan& NeighborhoodAttentionPlan::operator=(
    NeighborhoodAttentionPlan&&) noexcept = default;
NeighborhoodAttentionPlan::~NeighborhoodAttentionPlan() = default;

NeighborhoodAttentionPlan NeighborhoodAttentionPlan::create(const Engine& engine,
                                                            const NeighborhoodAttentionDesc& d,
                                                            const MixerWeights& weights,
                                                            cpu::NaCoreIsa isa) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const std::int64_t map_h = neighborhood_attention_map_h(d);
  const std::int64_t map_w = neighborhood_attention_map_w(d);
  const cpu::NaGeometry geometry{.n = d.n,
                                 .map_h = map_h,
                                 .map_w = map_w,
                                 .out_h = d.h,
                                 .out_w = d.w,
                                 .heads = d.heads,
                                 .head_dim = d.c / d.heads,
                                 .kernel = d.kernel,
                                 .dilation = d.dilation,
                                 .scale = rsqrt_scale(d.c / d.heads)};
  if (const std::string why = cpu::NeighborhoodAttentionCore::why_not(geometry, isa);
      !why.empty()) {
    throw Unsupported(
        fmt::format("neighborhood_attention: the requested core cannot run: {} [{}]", why, key));
  }
  // LinearPlan reads dense weights; the views here may be strided slices.
  const auto dense = [&](std::string_view name) { return Tensor::copy_of(weights.get(name, key)); };
  const Tensor qkv_w = dense("qkv.weight"), proj_w = dense("proj.weight"),
               proj_b = dense("proj.bias");
  const Tensor qkv_b = d.qkv_bias == Bias::Add ? dense("qkv.bias") : Tensor();
  const std::int64_t map_tokens = d.n * map_h * map_w, tokens = d.n * d.h * d.w;
  auto qkv =
      LinearPlan::create(engine, {.m = map_tokens, .k = d.c, .n = 3 * d.c, .bias = d.qkv_bias},
                         qkv_w.view(), d.qkv_bias == Bias::Add ? qkv_b.view() : ConstTensorView{});
  auto proj =
      LinearPlan::create(engine, {.m = tokens, .k = d.c, .n = d.c}, proj_w.view(), proj_b.view());
  auto core = cpu::NeighborhoodAttentionCore::create(
      engine, geometry, d.rel_pos ? weights.get("rpb", key) : ConstTensorView{}, isa);
  std::string impl = fmt::format("{}+{}", core.impl_name(), qkv.impl_name());
  auto state = std::make_unique<State>(State{
      .desc = d,
      .map_h = map_h,
      .map_w = map_w,
      .qkv = std::move(qkv),
      .proj = std::move(proj),
      .core = std::move(core),
      .padded = map_tokens != tokens ? Tensor::zeros({d.n, map_h, map_w, d.c}) : Tensor(),
      .qkv_out = Tensor::empty({map_tokens, 3 * d.c}),
      .attn = Tensor::empty({tokens, d.c}),
      .impl = std::move(impl),
  });
  return NeighborhoodAttentionPlan(std::move(state));
}

void NeighborhoodAttentionPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;  // the plan's scratch tensors
  const NeighborhoodAttentionDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == (Shape{d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == (Shape{d.n, d.h, d.w, d.c}));
  ConstTensorView qkv_src = src;
  if (s.padded.f32() != nullptr) {
    // Only the valid region is written; the rest of the buffer stays zero from create().
    const std::size_t row_bytes = static_cast<std::size_t>(d.w * d.c) * sizeof(float);
    for (std::int64_t b = 0; b < d.n; ++b) {
      for (std::int64_t y = 0; y < d.h; ++y) {
        std::memcpy(s.padded.f32() + ((b * s.map_h + y) * s.map_w) * d.c,
                    src.f32() + ((b * d.h + y) * d.w) * d.c, row_bytes);
      }
    }
    qkv_src = s.padded.cview();
  }
  s.qkv.run(qkv_src.reshape({d.n * s.map_h * s.map_w, d.c}), s.qkv_out.view());
  s.core.run(s.qkv_out.f32(), s.attn.f32());
  s.proj.run(s.attn.cview(), dst.reshape({d.n * d.h * d.w, d.c}));
}

std::string_view NeighborhoodAttentionPlan::impl_name() const { return state_->impl; }

MixerEntry neighborhood_attention_entry() {
  return make_mixer_entry<NeighborhoodAttentionDesc, NeighborhoodAttentionPlan>(
      "neighborhood_attention",
      "NAT/DiNAT neighborhood attention: kernel x kernel window per pixel, clamped at borders, "
      "dilation, rpb",
      neighborhood_attention_params(), &neighborhood_attention_desc_from,
      [](const NeighborhoodAttentionDesc& d, const ConstTensorView& src, const MixerWeights& w) {
        return reference::neighborhood_attention(d, src, w);
      },
      kTolerance);
}

}  // namespace hwnas
