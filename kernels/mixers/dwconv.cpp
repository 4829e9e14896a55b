#include "kernels/mixers/dwconv.hpp"

#include <fmt/format.h>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/reference/dwconv_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "dwconv";
constexpr std::int64_t kMaxKernel = 31;  // RepLKNet's largest

// Test tolerance, relative to max(sum |w*x| + |bias|, 1): each output is a dot product of k*k
// taps plus the bias, 2*gamma(k*k + 1) in any summation order (testing::sum_tolerance):
// 2*gamma(962) = 1.15e-4 at k = 31, 5.9e-6 at k = 7. The bound of the largest kernel; a wrong tap
// or a missing bias moves an output by ~|w*x| ~ magnitude / k^2 >= 1e-3 of it.
constexpr double kTolerance = 1.2e-4;

}  // namespace

std::span<const ParamSpec> dwconv_mixer_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "k",
                 .default_value = "7",
                 .min = 1,
                 .max = kMaxKernel,
                 .help = "kernel size k x k (odd; ConvNeXt: 7)"});
    s.push_back({.name = "dilation",
                 .default_value = "1",
                 .min = 1,
                 .max = 16,
                 .help = "dilation (1 = dense)"});
    s.push_back(
        {.name = "bias", .default_value = "1", .min = 0, .max = 1, .help = "add a bias (1)"});
    s.push_back({.name = "backend",
                 .default_value = "auto",
                 .choices = {"auto", "onednn", "hand"},
                 .help = "implementation: auto = the faster per shape"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const DwconvMixerDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)},
                          {"k", std::to_string(d.k)},
                          {"dilation", std::to_string(d.dilation)},
                          {"bias", d.bias == Bias::Add ? "1" : "0"},
                          {"backend", std::string(to_string(d.backend))}});
}

DwconvMixerDesc dwconv_mixer_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const std::string& backend = p.word("backend");
  const DwconvMixerDesc d{.n = s.n,
                          .h = s.h,
                          .w = s.w,
                          .c = s.c,
                          .k = p.integer("k"),
                          .dilation = p.integer("dilation"),
                          .bias = p.integer("bias") != 0 ? Bias::Add : Bias::None,
                          .backend = backend == "hand"     ? ConvBackend::Hand
                                     : backend == "onednn" ? ConvBackend::OneDnn
                                                           : ConvBackend::Auto};
  check(d);
  return d;
}

void check(const DwconvMixerDesc& d) {
  for (const auto& [name, v] : {std::pair{"n", d.n},
                                {"h", d.h},
                                {"w", d.w},
                                {"c", d.c},
                                {"k", d.k},
                                {"dilation", d.dilation}}) {
    if (v < 1) {
      throw InvalidArgument(
          fmt::format("{}: {}={} must be >= 1 [{}]", kName, name, v, to_string(d)));
    }
  }
  if (d.k % 2 == 0 || d.k > kMaxKernel) {
    throw InvalidArgument(fmt::format(
        "{}: k={} must be odd and <= {} ('same' padding d*(k-1)/2 keeps the size only for odd "
        "kernels) [{}]",
        kName, d.k, kMaxKernel, to_string(d)));
  }
}

Conv2dDesc conv2d_desc_of(const DwconvMixerDesc& d) {
  const std::int64_t pad = d.dilation * (d.k - 1) / 2;
  return {.n = d.n,
          .h = d.h,
          .w = d.w,
          .ic = d.c,
          .oc = d.c,
          .kh = d.k,
          .kw = d.k,
          .pad_h = pad,
          .pad_w = pad,
          .dilation_h = d.dilation,
          .dilation_w = d.dilation,
          .groups = d.c,
          .bias = d.bias};
}

OpCost cost(const DwconvMixerDesc& d) {
  const double elements = static_cast<double>(d.n * d.h * d.w * d.c);
  const std::int64_t params = d.c * d.k * d.k + (d.bias == Bias::Add ? d.c : 0);
  return {.flops = 2 * elements * static_cast<double>(d.k * d.k),
          .bytes = 4.0 * (2 * elements + static_cast<double>(params)),
          .params = params};
}

std::vector<WeightSpec> weight_specs(const DwconvMixerDesc& d) {
  std::vector<WeightSpec> specs = {{"dwconv.weight", {d.c, 1, d.k, d.k}, WeightKind::Matrix}};
  if (d.bias == Bias::Add) specs.push_back({"dwconv.bias", {d.c}, WeightKind::Bias});
  return specs;
}

DwconvMixerPlan DwconvMixerPlan::create(const Engine& engine, const DwconvMixerDesc& d,
                                        const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  return DwconvMixerPlan(
      Conv2dPlan::create(engine, conv2d_desc_of(d), weights.get("dwconv.weight", key),
                         d.bias == Bias::Add ? weights.get("dwconv.bias", key) : ConstTensorView{},
                         {.backend = d.backend}));
}

void DwconvMixerPlan::run(ConstTensorView src, TensorView dst) const { conv_.run(src, dst); }

std::string_view DwconvMixerPlan::impl_name() const { return conv_.impl_name(); }

MixerEntry dwconv_mixer_entry() {
  return make_mixer_entry<DwconvMixerDesc, DwconvMixerPlan>(
      std::string(kName),
      "ConvNeXt depthwise k x k conv, 'same' padding, optional dilation (oneDNN / hand)",
      dwconv_mixer_params(), dwconv_mixer_desc_from, reference::dwconv, kTolerance);
}

}  // namespace hwnas
