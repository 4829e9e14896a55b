#include "kernels/layers/stem.hpp"

#include <fmt/format.h>

#include <optional>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/ops/layer_norm.hpp"
#include "kernels/reference/stem_ref.hpp"

namespace hwnas {
namespace {

// patch_embed's test tolerance, relative to max(magnitude, 1); with norm=ln the magnitude is the
// LayerNorm-carried bound |gamma| (|xhat| + conv magnitude / sigma) + |beta| (layer_ref_util.hpp),
// so both forms are the conv's dot-product bound: 2 gamma(in_c*patch^2 + 1) = 5.8e-6 (patch 4),
// 2.3e-5 (8), 9.2e-5 (16) for RGB, plus the LayerNorm's 1e-5 relative. 1.5e-4 covers patch 16;
// observed ~1e-7. A transposed kernel or a wrong patch origin moves outputs by >= 1e-2.
constexpr double kPatchEmbedTolerance = 1.5e-4;

// conv_stem's: conv2 sums 9*c/2 + 1 terms (2 gamma = 5.2e-5 at c = 96); conv1's error (2 gamma(28)
// ~ 3.3e-6 of its magnitude ~ 1.3, times GELU's slope <= 1.13) reaches the output times sum |w2|
// ~ 0.5 sqrt(9c/2) ~ 10 against a magnitude ~ 3: ~2e-5 relative. ~7e-5 worst case at c = 96;
// 1.5e-4 covers c <= ~200; observed ~1e-7.
constexpr double kConvStemTolerance = 1.5e-4;

std::vector<ParamSpec> image_params() {
  return {
      {.name = "n", .default_value = "1", .min = 1, .max = 1 << 16, .help = "batch"},
      {.name = "h", .default_value = "224", .min = 1, .max = 1 << 16, .help = "image height"},
      {.name = "w", .default_value = "224", .min = 1, .max = 1 << 16, .help = "image width"},
      {.name = "in_c", .default_value = "3", .min = 1, .max = 1 << 12, .help = "image channels"},
      {.name = "c", .default_value = "96", .min = 1, .max = 1 << 16, .help = "output channels"},
  };
}

void check_positive(std::string_view name, std::string_view field, std::int64_t v,
                    const std::string& key) {
  if (v < 1) throw InvalidArgument(fmt::format("{}: {}={} must be >= 1 [{}]", name, field, v, key));
}

std::int64_t half_pad1(std::int64_t v) { return (v - 1) / 2 + 1; }

}  // namespace

// ---- patch_embed ----

std::span<const ParamSpec> patch_embed_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = image_params();
    s.push_back(
        {.name = "patch", .default_value = "4", .min = 1, .max = 64, .help = "kernel = stride"});
    s.push_back({.name = "norm",
                 .default_value = "ln",
                 .choices = {"ln", "none"},
                 .help = "LayerNorm after"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const PatchEmbedDesc& d) {
  return make_key("patch_embed", {{"n", std::to_string(d.n)},
                                  {"h", std::to_string(d.h)},
                                  {"w", std::to_string(d.w)},
                                  {"in_c", std::to_string(d.in_c)},
                                  {"c", std::to_string(d.c)},
                                  {"patch", std::to_string(d.patch)},
                                  {"norm", d.norm ? "ln" : "none"}});
}

PatchEmbedDesc patch_embed_desc_from(const Params& p) {
  const PatchEmbedDesc d{.n = p.integer("n"),
                         .h = p.integer("h"),
                         .w = p.integer("w"),
                         .in_c = p.integer("in_c"),
                         .c = p.integer("c"),
                         .patch = p.integer("patch"),
                         .norm = p.word("norm") == "ln"};
  check(d);
  return d;
}

void check(const PatchEmbedDesc& d) {
  const std::string key = to_string(d);
  for (const auto& [field, v] : {std::pair{"n", d.n},
                                 {"h", d.h},
                                 {"w", d.w},
                                 {"in_c", d.in_c},
                                 {"c", d.c},
                                 {"patch", d.patch}}) {
    check_positive("patch_embed", field, v, key);
  }
  if (d.h < d.patch || d.w < d.patch) {
    throw InvalidArgument(
        fmt::format("patch_embed: h={} and w={} must be >= patch={} [{}]", d.h, d.w, d.patch, key));
  }
}

Shape src_shape(const PatchEmbedDesc& d) { return {d.n, d.h, d.w, d.in_c}; }
Shape dst_shape(const PatchEmbedDesc& d) { return {d.n, d.h / d.patch, d.w / d.patch, d.c}; }

std::vector<WeightSpec> weight_specs(const PatchEmbedDesc& d) {
  std::vector<WeightSpec> s = {{"proj.weight", {d.c, d.in_c, d.patch, d.patch}, WeightKind::Matrix},
                               {"proj.bias", {d.c}, WeightKind::Bias}};
  if (d.norm) {
    s.push_back({"norm.weight", {d.c}, WeightKind::NormScale});
    s.push_back({"norm.bias", {d.c}, WeightKind::NormShift});
  }
  return s;
}

OpCost cost(const PatchEmbedDesc& d) {
  const Shape o = dst_shape(d);
  const double t = static_cast<double>(o[0] * o[1] * o[2]);
  std::int64_t params = 0;
  for (const WeightSpec& s : weight_specs(d)) params += s.shape.numel();
  return {.flops = 2 * t * static_cast<double>(d.c * d.in_c * d.patch * d.patch),
          .bytes = 4.0 * (static_cast<double>(src_shape(d).numel()) + t * static_cast<double>(d.c) +
                          static_cast<double>(params)),
          .params = params};
}

struct PatchEmbedPlan::State {
  PatchEmbedDesc desc;
  std::optional<Conv2dPlan> proj;
  std::optional<LayerNormPlan> norm;
  std::string impl;
};

PatchEmbedPlan::PatchEmbedPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
PatchEmbedPlan::PatchEmbedPlan(PatchEmbedPlan&&) noexcept = default;
PatchEmbedPlan& PatchEmbedPlan::operator=(PatchEmbedPlan&&) noexcept = default;
PatchEmbedPlan::~PatchEmbedPlan() = default;

PatchEmbedPlan PatchEmbedPlan::create(const Engine& engine, const PatchEmbedDesc& d,
                                      const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  auto s = std::make_unique<State>();
  s->desc = d;
  const Tensor w = Tensor::copy_of(weights.get("proj.weight", key));
  const Tensor b = Tensor::copy_of(weights.get("proj.bias", key));
  s->proj.emplace(Conv2dPlan::create(engine,
                                     {.n = d.n,
                                      .h = d.h,
                                      .w = d.w,
                                      .ic = d.in_c,
                                      .oc = d.c,
                                      .kh = d.patch,
                                      .kw = d.patch,
                                      .stride_h = d.patch,
                                      .stride_w = d.patch},
                                     w.cview(), b.cview(),
                                     {.onednn_algorithm = ConvAlgorithm::Direct}));
  s->impl = std::string(s->proj->impl_name());
  if (d.norm) {
    const Shape o = dst_shape(d);
    const Tensor g = Tensor::copy_of(weights.get("norm.weight", key));
    const Tensor bt = Tensor::copy_of(weights.get("norm.bias", key));
    s->norm.emplace(LayerNormPlan::create(
        engine, {.rows = o[0] * o[1] * o[2], .c = d.c, .eps = 1e-5f}, g.cview(), bt.cview()));
    s->impl += fmt::format("+{}", s->norm->impl_name());
  }
  return PatchEmbedPlan(std::move(s));
}

void PatchEmbedPlan::run(ConstTensorView src, TensorView dst) const {
  const State& s = *state_;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == src_shape(s.desc));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == dst_shape(s.desc));
  s.proj->run(src, dst);
  if (s.norm) s.norm->run(dst, dst);
}

std::string_view PatchEmbedPlan::impl_name() const { return state_->impl; }

LayerEntry patch_embed_layer_entry() {
  return make_layer_entry<PatchEmbedDesc, PatchEmbedPlan>(
      "patch_embed", "patchify stem: conv k = s = patch, LayerNorm (Swin PatchEmbed)",
      patch_embed_params(), patch_embed_desc_from, reference::patch_embed, kPatchEmbedTolerance);
}

// ---- conv_stem ----

std::span<const ParamSpec> conv_stem_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = image_params();
    s.push_back({.name = "act",
                 .default_value = "gelu_erf",
                 .choices = {"gelu_erf", "relu", "hardswish"},
                 .help = "activation between the convs"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const ConvStemDesc& d) {
  return make_key("conv_stem", {{"n", std::to_string(d.n)},
                                {"h", std::to_string(d.h)},
                                {"w", std::to_string(d.w)},
                                {"in_c", std::to_string(d.in_c)},
                                {"c", std::to_string(d.c)},
                                {"act", std::string(to_string(d.act))}});
}

ConvStemDesc conv_stem_desc_from(const Params& p) {
  const ConvStemDesc d{.n = p.integer("n"),
                       .h = p.integer("h"),
                       .w = p.integer("w"),
                       .in_c = p.integer("in_c"),
                       .c = p.integer("c"),
                       .act = parse_activation(p.word("act"))};
  check(d);
  return d;
}

void check(const ConvStemDesc& d) {
  const std::string key = to_string(d);
  for (const auto& [field, v] :
       {std::pair{"n", d.n}, {"h", d.h}, {"w", d.w}, {"in_c", d.in_c}, {"c", d.c}}) {
    check_positive("conv_stem", field, v, key);
  }
  if (d.c < 2 || d.c % 2 != 0) {
    throw InvalidArgument(fmt::format(
        "conv_stem: c={} must be even and >= 2 (the first conv has c/2 channels) [{}]", d.c, key));
  }
  if (d.act != Activation::GeluErf && d.act != Activation::Relu && d.act != Activation::Hardswish) {
    throw InvalidArgument(fmt::format("conv_stem: act={} must be gelu_erf, relu or hardswish [{}]",
                                      to_string(d.act), key));
  }
}

Shape src_shape(const ConvStemDesc& d) { return {d.n, d.h, d.w, d.in_c}; }
Shape dst_shape(const ConvStemDesc& d) {
  return {d.n, half_pad1(half_pad1(d.h)), half_pad1(half_pad1(d.w)), d.c};
}

std::vector<WeightSpec> weight_specs(const ConvStemDesc& d) {
  return {{"conv1.weight", {d.c / 2, d.in_c, 3, 3}, WeightKind::Matrix},
          {"conv1.bias", {d.c / 2}, WeightKind::Bias},
          {"conv2.weight", {d.c, d.c / 2, 3, 3}, WeightKind::Matrix},
          {"conv2.bias", {d.c}, WeightKind::Bias}};
}

OpCost cost(const ConvStemDesc& d) {
  const double t1 = static_cast<double>(d.n * half_pad1(d.h) * half_pad1(d.w));
  const Shape o = dst_shape(d);
  const double t2 = static_cast<double>(o[0] * o[1] * o[2]);
  const double c = static_cast<double>(d.c), in_c = static_cast<double>(d.in_c);
  std::int64_t params = 0;
  for (const WeightSpec& s : weight_specs(d)) params += s.shape.numel();
  return {.flops = 2 * t1 * (c / 2) * in_c * 9 + 2 * t2 * c * (c / 2) * 9,
          .bytes = 4.0 * (static_cast<double>(src_shape(d).numel()) + t2 * c +
                          static_cast<double>(params)),
          .params = params};
}

struct ConvStemPlan::State {
  ConvStemDesc desc;
  std::optional<Conv2dPlan> conv1, conv2;
  Tensor mid;  // [n, ceil(h/2), ceil(w/2), c/2]
  std::string impl;
};

ConvStemPlan::ConvStemPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
ConvStemPlan::ConvStemPlan(ConvStemPlan&&) noexcept = default;
ConvStemPlan& ConvStemPlan::operator=(ConvStemPlan&&) noexcept = default;
ConvStemPlan::~ConvStemPlan() = default;

ConvStemPlan ConvStemPlan::create(const Engine& engine, const ConvStemDesc& d,
                                  const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  auto s = std::make_unique<State>();
  s->desc = d;
  const auto copy = [&](std::string_view name) { return Tensor::copy_of(weights.get(name, key)); };
  const Tensor w1 = copy("conv1.weight"), b1 = copy("conv1.bias"), w2 = copy("conv2.weight"),
               b2 = copy("conv2.bias");
  const std::int64_t mh = half_pad1(d.h), mw = half_pad1(d.w);
  const Conv2dOptions direct{.onednn_algorithm = ConvAlgorithm::Direct};
  s->conv1.emplace(Conv2dPlan::create(engine,
                                      {.n = d.n,
                                       .h = d.h,
                                       .w = d.w,
                                       .ic = d.in_c,
                                       .oc = d.c / 2,
                                       .kh = 3,
                                       .kw = 3,
                                       .stride_h = 2,
                                       .stride_w = 2,
                                       .pad_h = 1,
                                       .pad_w = 1,
                                       .act = d.act},
                                      w1.cview(), b1.cview(), direct));
  s->conv2.emplace(Conv2dPlan::create(engine,
                                      {.n = d.n,
                                       .h = mh,
                                       .w = mw,
                                       .ic = d.c / 2,
                                       .oc = d.c,
                                       .kh = 3,
                                       .kw = 3,
                                       .stride_h = 2,
                                       .stride_w = 2,
                                       .pad_h = 1,
                                       .pad_w = 1},
                                      w2.cview(), b2.cview(), direct));
  s->mid = Tensor::empty({d.n, mh, mw, d.c / 2});
  s->impl = fmt::format("{}+{}", s->conv1->impl_name(), s->conv2->impl_name());
  return ConvStemPlan(std::move(s));
}

void ConvStemPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == src_shape(s.desc));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == dst_shape(s.desc));
  s.conv1->run(src, s.mid.view());
  s.conv2->run(s.mid.cview(), dst);
}

std::string_view ConvStemPlan::impl_name() const { return state_->impl; }

LayerEntry conv_stem_layer_entry() {
  return make_layer_entry<ConvStemDesc, ConvStemPlan>(
      "conv_stem", "two 3x3 s2 convs (BN folded) with an activation between", conv_stem_params(),
      conv_stem_desc_from, reference::conv_stem, kConvStemTolerance);
}

}  // namespace hwnas
