// Workloads of conv2d. (`dwconv`, ConvNeXt's depthwise conv under the short keys h, w, c, k, is the
// token mixer of kernels/mixers/dwconv.hpp.)
//
// backend=auto|onednn|hand: Auto is what a model gets (the faster per shape, see conv2d.cpp); the
// others force one implementation so the two can be compared on this machine.
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
  return {"conv2d",
          "2-D conv on NHWC: dense, grouped, depthwise; stride, padding, dilation (oneDNN / hand)",
          conv2d_bench_params(),
          [](const Engine& engine, const Params& params, std::uint64_t seed) {
            const Conv2dDesc d = conv2d_desc_from(params);
            return conv_workload(engine, d, backend_of(params), params.key(), seed);
          },
          [](const Params& params) {
            check(conv2d_desc_from(params));
            return params.key();
          }};
}

}  // namespace hwnas
