// Workloads of conv2d, and `dwconv`: the depthwise conv of ConvNeXt-style mixers under the short
// keys users type (h, w, c, k), padded to keep the size as the mixer does.
//
// Both take backend=auto|onednn|hand: Auto is what a model gets (the faster per shape, see
// conv2d.cpp); the others force one implementation so the two can be compared on this machine.
#include <fmt/format.h>

#include "bench/workloads/workload_util.hpp"
#include "bench/workloads/workloads.hpp"
#include "kernels/ops/conv2d.hpp"

namespace hwnas {
namespace {

const ParamSpec kBackendSpec = {.name = "backend",
                                .default_value = "auto",
                                .choices = {"auto", "onednn", "hand"},
                                .help = "implementation: auto = the faster per shape"};

ConvBackend backend_of(const Params& params) {
  const std::string& b = params.word("backend");
  return b == "hand" ? ConvBackend::Hand : b == "onednn" ? ConvBackend::OneDnn : ConvBackend::Auto;
}

std::span<const ParamSpec> conv2d_bench_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> specs(conv2d_params().begin(), conv2d_params().end());
    specs.push_back(kBackendSpec);
    return specs;
  }();
  return kSpecs;
}

std::span<const ParamSpec> dwconv_params() {
  static const std::vector<ParamSpec> kSpecs = {
      {.name = "n", .default_value = "1", .min = 1, .max = 1 << 20, .help = "batch"},
      {.name = "h", .default_value = "56", .min = 1, .max = 1 << 20, .help = "height"},
      {.name = "w", .default_value = "56", .min = 1, .max = 1 << 20, .help = "width"},
      {.name = "c", .default_value = "96", .min = 1, .max = 1 << 20, .help = "channels"},
      {.name = "k", .default_value = "7", .min = 1, .max = 31, .help = "kernel size (k x k), padded to 'same'"},
      {.name = "stride", .default_value = "1", .min = 1, .max = 4, .help = "stride"},
      {.name = "dilation", .default_value = "1", .min = 1, .max = 8, .help = "dilation"},
      {.name = "bias", .default_value = "1", .min = 0, .max = 1, .help = "add a bias"},
      kBackendSpec,
  };
  return kSpecs;
}

// `key` names the workload (the words the user typed, so the repro line re-measures the same point).
Workload conv_workload(const Engine& engine, const Conv2dDesc& d, ConvBackend backend, std::string key,
                       std::uint64_t seed) {
  check(d);
  std::mt19937_64 rng(seed);
  std::vector<Tensor> t;
  t.push_back(random_tensor(conv2d_src_shape(d), rng));
  t.push_back(Tensor::empty(conv2d_dst_shape(d)));
  t.push_back(random_tensor(conv2d_weights_shape(d), rng));
  t.push_back(random_tensor({d.oc}, rng));
  Conv2dPlan plan = Conv2dPlan::create(engine, d, t[2].view(),
                                       d.bias == Bias::Add ? t[3].cview() : ConstTensorView{},
                                       {.backend = backend});
  Workload w = package(d, std::move(t), std::move(plan),
                       [](const Conv2dPlan& p, std::vector<Tensor>& x) { p.run(x[0].view(), x[1].view()); });
  w.key = std::move(key);
  return w;
}

}  // namespace

OpEntry conv2d_entry() {
  return {"conv2d", "2-D conv on NHWC: dense, grouped, depthwise; stride, padding, dilation (oneDNN / hand)",
          conv2d_bench_params(), [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const Conv2dDesc d = conv2d_desc_from(params);
            return conv_workload(engine, d, backend_of(params), params.key(), seed);
          }};
}

OpEntry dwconv_entry() {
  return {"dwconv", "depthwise k x k conv, 'same' padding (ConvNeXt-style mixer); conv2d with groups = c",
          dwconv_params(), [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const std::int64_t k = params.integer("k"), dilation = params.integer("dilation");
            const std::int64_t c = params.integer("c");
            const Conv2dDesc d{.n = params.integer("n"),
                               .h = params.integer("h"),
                               .w = params.integer("w"),
                               .ic = c,
                               .oc = c,
                               .kh = k,
                               .kw = k,
                               .stride_h = params.integer("stride"),
                               .stride_w = params.integer("stride"),
                               .pad_h = dilation * (k - 1) / 2,
                               .pad_w = dilation * (k - 1) / 2,
                               .dilation_h = dilation,
                               .dilation_w = dilation,
                               .groups = c,
                               .bias = params.integer("bias") != 0 ? Bias::Add : Bias::None};
            return conv_workload(engine, d, backend_of(params), params.key(), seed);
          }};
}

}  // namespace hwnas
