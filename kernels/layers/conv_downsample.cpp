#include "kernels/layers/conv_downsample.hpp"

#include <fmt/format.h>

#include <optional>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/ops/layer_norm.hpp"
#include "kernels/reference/conv_downsample_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "conv_downsample";
constexpr std::string_view kPlaceNames[] = {"pre", "post", "none"};

// Test tolerance, relative to max(magnitude, 1). Pre / none: the last reduction is the conv,
// K = c*k*k + 1 terms: 2 gamma(K) = 1.0e-4 at c = 96, k = 3 (864 terms), plus the pre-norm's 1e-5
// relative carried through; post: the magnitude is the LayerNorm's carried bound
// |gamma| (|xhat| + conv magnitude / sigma) + |beta| (layer_ref_util.hpp), so the same dot-product
// factor applies. 1.5e-4 covers c*k*k <= ~1200 by the worst-case bound (the tested sizes); observed
// errors are ~1e-7. A wrong tap, pad side or LN axis moves outputs by >= 1e-2.
constexpr double kTolerance = 1.5e-4;

std::int64_t out_extent(std::int64_t v, std::int64_t k) { return k == 2 ? v / 2 : (v - 1) / 2 + 1; }

}  // namespace

std::string_view to_string(NormPlace p) { return kPlaceNames[static_cast<int>(p)]; }

std::span<const ParamSpec> conv_downsample_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "kernel",
                 .default_value = "2",
                 .min = 1,
                 .max = 7,
                 .help = "2 (stride 2, pad 0) or 3 (stride 2, pad 1)"});
    s.push_back({.name = "norm",
                 .default_value = "pre",
                 .choices = {"pre", "post", "none"},
                 .help = "LayerNorm before the conv (ConvNeXt), after (PVTv2) or none"});
    s.push_back({.name = "out_c",
                 .default_value = "0",
                 .min = 0,
                 .max = 1 << 16,
                 .help = "output channels; 0 = 2c"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const ConvDownsampleDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)},
                          {"kernel", std::to_string(d.kernel)},
                          {"norm", std::string(to_string(d.norm))},
                          {"out_c", std::to_string(d.out_c)}});
}

ConvDownsampleDesc conv_downsample_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const std::string& norm = p.word("norm");
  const std::int64_t out_c = p.integer("out_c");
  const ConvDownsampleDesc d{.n = s.n,
                             .h = s.h,
                             .w = s.w,
                             .c = s.c,
                             .kernel = p.integer("kernel"),
                             .norm = norm == "pre"    ? NormPlace::Pre
                                     : norm == "post" ? NormPlace::Post
                                                      : NormPlace::None,
                             .out_c = out_c == 0 ? 2 * s.c : out_c};
  check(d);
  return d;
}

void check(const ConvDownsampleDesc& d) {
  for (const auto& [field, v] :
       {std::pair{"n", d.n}, {"h", d.h}, {"w", d.w}, {"c", d.c}, {"out_c", d.out_c}}) {
    if (v < 1)
      throw InvalidArgument(
          fmt::format("{}: {}={} must be >= 1 [{}]", kName, field, v, to_string(d)));
  }
  if (d.kernel != 2 && d.kernel != 3) {
    throw InvalidArgument(
        fmt::format("{}: kernel={} must be 2 (stride 2) or 3 (stride 2, pad 1) [{}]", kName,
                    d.kernel, to_string(d)));
  }
  if (d.kernel == 2 && (d.h < 2 || d.w < 2)) {
    throw InvalidArgument(
        fmt::format("{}: h={} and w={} must be >= 2 for kernel=2 (no padding) [{}]", kName, d.h,
                    d.w, to_string(d)));
  }
}

Shape src_shape(const ConvDownsampleDesc& d) { return {d.n, d.h, d.w, d.c}; }
Shape dst_shape(const ConvDownsampleDesc& d) {
  return {d.n, out_extent(d.h, d.kernel), out_extent(d.w, d.kernel), d.out_c};
}

std::vector<WeightSpec> weight_specs(const ConvDownsampleDesc& d) {
  std::vector<WeightSpec> specs;
  if (d.norm != NormPlace::None) {
    const std::int64_t nc = d.norm == NormPlace::Pre ? d.c : d.out_c;
    specs.push_back({"norm.weight", {nc}, WeightKind::NormScale});
    specs.push_back({"norm.bias", {nc}, WeightKind::NormShift});
  }
  specs.push_back({"proj.weight", {d.out_c, d.c, d.kernel, d.kernel}, WeightKind::Matrix});
  specs.push_back({"proj.bias", {d.out_c}, WeightKind::Bias});
  return specs;
}

OpCost cost(const ConvDownsampleDesc& d) {
  const Shape out = dst_shape(d);
  const double t = static_cast<double>(out[0] * out[1] * out[2]);
  std::int64_t params = 0;
  for (const WeightSpec& s : weight_specs(d)) params += s.shape.numel();
  return {.flops = 2 * t * static_cast<double>(d.out_c * d.c * d.kernel * d.kernel),
          .bytes = 4.0 * (static_cast<double>(d.n * d.h * d.w * d.c) +
                          t * static_cast<double>(d.out_c) + static_cast<double>(params)),
          .params = params};
}

struct ConvDownsamplePlan::State {
  ConvDownsampleDesc desc;
  std::optional<LayerNormPlan> norm;
  std::optional<Conv2dPlan> conv;
  Tensor normed;  // [n, h, w, c] for norm=pre
  std::string impl;
};

ConvDownsamplePlan::ConvDownsamplePlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
ConvDownsamplePlan::ConvDownsamplePlan(ConvDownsamplePlan&&) noexcept = default;
ConvDownsamplePlan& ConvDownsamplePlan::operator=(ConvDownsamplePlan&&) noexcept = default;
ConvDownsamplePlan::~ConvDownsamplePlan() = default;

ConvDownsamplePlan ConvDownsamplePlan::create(const Engine& engine, const ConvDownsampleDesc& d,
                                              const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  auto s = std::make_unique<State>();
  s->desc = d;
  const Shape out = dst_shape(d);
  if (d.norm != NormPlace::None) {
    const Tensor g = Tensor::copy_of(weights.get("norm.weight", key));
    const Tensor b = Tensor::copy_of(weights.get("norm.bias", key));
    const bool pre = d.norm == NormPlace::Pre;
    s->norm.emplace(LayerNormPlan::create(
        engine,
        {.rows = pre ? d.n * d.h * d.w : out[0] * out[1] * out[2],
         .c = pre ? d.c : d.out_c,
         .eps = static_cast<float>(pre ? kConvDownsamplePreEps : kConvDownsamplePostEps)},
        g.cview(), b.cview()));
    if (pre) s->normed = Tensor::empty(src_shape(d));
  }
  const Tensor w = Tensor::copy_of(weights.get("proj.weight", key));
  const Tensor b = Tensor::copy_of(weights.get("proj.bias", key));
  const std::int64_t pad = d.kernel == 3 ? 1 : 0;
  s->conv.emplace(Conv2dPlan::create(engine,
                                     {.n = d.n,
                                      .h = d.h,
                                      .w = d.w,
                                      .ic = d.c,
                                      .oc = d.out_c,
                                      .kh = d.kernel,
                                      .kw = d.kernel,
                                      .stride_h = 2,
                                      .stride_w = 2,
                                      .pad_h = pad,
                                      .pad_w = pad},
                                     w.cview(), b.cview(),
                                     {.onednn_algorithm = ConvAlgorithm::Direct}));
  s->impl = s->norm ? (d.norm == NormPlace::Pre
                           ? fmt::format("{}+{}", s->norm->impl_name(), s->conv->impl_name())
                           : fmt::format("{}+{}", s->conv->impl_name(), s->norm->impl_name()))
                    : std::string(s->conv->impl_name());
  return ConvDownsamplePlan(std::move(s));
}

void ConvDownsamplePlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == src_shape(s.desc));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == dst_shape(s.desc));
  switch (s.desc.norm) {
    case NormPlace::Pre:
      s.norm->run(src, s.normed.view());
      s.conv->run(s.normed.cview(), dst);
      break;
    case NormPlace::Post:
      s.conv->run(src, dst);
      s.norm->run(dst, dst);
      break;
    case NormPlace::None:
      s.conv->run(src, dst);
      break;
  }
}

std::string_view ConvDownsamplePlan::impl_name() const { return state_->impl; }

LayerEntry conv_downsample_layer_entry() {
  return make_layer_entry<ConvDownsampleDesc, ConvDownsamplePlan>(
      std::string(kName),
      "strided conv downsampling (2x2 s2 or 3x3 s2 p1) with LayerNorm pre/post/none",
      conv_downsample_params(), conv_downsample_desc_from, reference::conv_downsample, kTolerance);
}

}  // namespace hwnas
