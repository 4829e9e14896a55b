#include "kernels/mixers/gnconv.hpp"

#include <fmt/format.h>

#include <numeric>

#include "kernels/assert.hpp"
#include "kernels/cpu/modulation_passes.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/gnconv_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "gnconv";
constexpr std::int64_t kMinOrder = 2, kMaxOrder = 5;

// Test tolerance, relative to max(magnitude of the proj_out dot product, 1). Each stage is a sum
// of products with relative error 2 gamma(K+1) of its magnitude: proj_in and proj_out sum c <= 96
// terms (~1.2e-5), the depthwise conv k^2 + 1 <= 50 (~6e-6, plus the rounding of the folded
// scale), each pws dims[i] <= 48. A product of two operands adds their relative errors, and with
// random weights of +-1/sqrt(fan_in) the operands stay O(1), so p_{order-1} carries ~(order+1) *
// 1.2e-5 of the magnitudes it is built from; proj_out adds 1.2e-5. Worst case ~8e-5 at order 5;
// observed <= 4.5e-8 (c = 96, orders 2 and 5, outputs of magnitude <= 0.66). 1e-4 still fails
// a wrong split offset, a missing scale or a swapped pws, which move outputs by >= 1e-2.
constexpr double kTolerance = 1e-4;

std::int64_t split(std::int64_t rows, int part, int parts) { return rows * part / parts; }

}  // namespace

std::span<const ParamSpec> gnconv_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "order",
                 .default_value = "3",
                 .min = 0,
                 .max = 64,
                 .help = "interaction order (2..5; HorNet-T: 2, 3, 4, 5 by stage)"});
    s.push_back({.name = "kernel",
                 .default_value = "7",
                 .min = 1,
                 .max = 63,
                 .help = "depthwise kernel (odd; HorNet 7x7: 7)"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const GnconvDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)},
                          {"order", std::to_string(d.order)},
                          {"kernel", std::to_string(d.kernel)}});
}

GnconvDesc gnconv_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const GnconvDesc d{.n = s.n,
                     .h = s.h,
                     .w = s.w,
                     .c = s.c,
                     .order = p.integer("order"),
                     .kernel = p.integer("kernel")};
  check(d);
  return d;
}

void check(const GnconvDesc& d) {
  const auto fail = [&](std::string rule) {
    throw InvalidArgument(fmt::format("{}: {} [{}]", kName, rule, to_string(d)));
  };
  for (const auto& [name, v] : {std::pair<std::string_view, std::int64_t>{"n", d.n},
                                {"h", d.h},
                                {"w", d.w},
                                {"c", d.c},
                                {"kernel", d.kernel}}) {
    if (v < 1) fail(fmt::format("{}={} must be >= 1", name, v));
  }
  if (d.order < kMinOrder || d.order > kMaxOrder) {
    fail(fmt::format("order={} must be in {}..{}", d.order, kMinOrder, kMaxOrder));
  }
  const std::int64_t divisor = std::int64_t{1} << (d.order - 1);
  if (d.c % divisor != 0) {
    fail(fmt::format("c={} must be divisible by 2^(order-1)={} for order={}", d.c, divisor,
                     d.order));
  }
  if (d.kernel % 2 == 0) {
    fail(fmt::format("kernel={} must be odd ('same' padding of a depthwise conv)", d.kernel));
  }
}

std::vector<std::int64_t> gnconv_dims(const GnconvDesc& d) {
  std::vector<std::int64_t> dims;
  for (std::int64_t i = 0; i < d.order; ++i) dims.push_back(d.c >> (d.order - 1 - i));
  return dims;
}

OpCost cost(const GnconvDesc& d) {
  const std::vector<std::int64_t> dims = gnconv_dims(d);
  const std::int64_t sum = std::accumulate(dims.begin(), dims.end(), std::int64_t{0});
  const double t = static_cast<double>(d.n * d.h * d.w), c = static_cast<double>(d.c);
  const double k2 = static_cast<double>(d.kernel * d.kernel);
  double flops = 2 * t * c * 2 * c + 2 * t * static_cast<double>(sum) * k2 + 2 * t * c * c;
  std::int64_t params = 2 * d.c * d.c + 2 * d.c + sum * d.kernel * d.kernel + sum + d.c * d.c + d.c;
  for (std::size_t i = 0; i + 1 < dims.size(); ++i) {
    flops += 2 * t * static_cast<double>(dims[i] * dims[i + 1]);
    params += dims[i] * dims[i + 1] + dims[i + 1];
  }
  return {
      .flops = flops, .bytes = 4.0 * (2 * t * c + static_cast<double>(params)), .params = params};
}

std::vector<WeightSpec> weight_specs(const GnconvDesc& d) {
  const std::vector<std::int64_t> dims = gnconv_dims(d);
  const std::int64_t sum = std::accumulate(dims.begin(), dims.end(), std::int64_t{0});
  // The abc channels split into dims; aligned at the end over kMaxOrder parts, so the part of
  // c >> j channels is the same segment at every order (mixer.hpp, entanglement).
  std::vector<std::int64_t> abc(static_cast<std::size_t>(kMaxOrder), 0);
  std::copy(dims.begin(), dims.end(), abc.end() - static_cast<std::ptrdiff_t>(dims.size()));
  std::vector<std::int64_t> pwa_abc = {dims[0]};
  pwa_abc.insert(pwa_abc.end(), abc.begin(), abc.end());
  std::vector<WeightSpec> specs = {
      with_segments({"proj_in.weight", {2 * d.c, d.c}, WeightKind::Matrix}, 0, pwa_abc),
      with_segments({"proj_in.bias", {2 * d.c}, WeightKind::Bias}, 0, pwa_abc),
      with_segments({"dwconv.weight", {sum, 1, d.kernel, d.kernel}, WeightKind::Matrix}, 0, abc),
      with_segments({"dwconv.bias", {sum}, WeightKind::Bias}, 0, abc)};
  for (std::size_t i = 0; i + 1 < dims.size(); ++i) {
    specs.push_back({fmt::format("pws.{}.weight", i), {dims[i + 1], dims[i]}, WeightKind::Matrix});
    specs.push_back({fmt::format("pws.{}.bias", i), {dims[i + 1]}, WeightKind::Bias});
  }
  specs.push_back({"proj_out.weight", {d.c, d.c}, WeightKind::Matrix});
  specs.push_back({"proj_out.bias", {d.c}, WeightKind::Bias});
  return specs;
}

// Buffers: pwa and abc come from two matmuls over proj_in's row blocks, so the depthwise conv
// reads abc contiguously; dw holds the scaled conv output, read in place by the gating products
// (its slices dw_i are strided by sum(dims)). The recursion ping-pongs between x and y.
// Profile (2 threads, HorNet-T stage shapes and orders): proj_in takes 40-48% of the time, proj_out
// 20-24%, the pws 11-18%, the 7x7 depthwise conv 9-24% and all gating products 1.4-5%, so the
// products stay one in-place pass each rather than being fused into a matmul epilogue.
struct GnconvPlan::State {
  GnconvDesc desc;
  int threads = 1;
  std::vector<std::int64_t> dims;
  std::int64_t dims_sum = 0;
  LinearPlan in_a, in_abc, proj_out;
  Conv2dPlan dwconv;
  std::vector<LinearPlan> pws;
  Tensor abc, dw, x, y;  // x and y: [T, c], used as [T, dims[i]]
  const cpu::ModulationPasses* passes = nullptr;
  std::string impl;
};

GnconvPlan::GnconvPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
GnconvPlan::GnconvPlan(GnconvPlan&&) noexcept = default;
GnconvPlan& GnconvPlan::operator=(GnconvPlan&&) noexcept = default;
GnconvPlan::~GnconvPlan() = default;

GnconvPlan GnconvPlan::create(const Engine& engine, const GnconvDesc& d,
                              const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const std::vector<std::int64_t> dims = gnconv_dims(d);
  const std::int64_t sum = std::accumulate(dims.begin(), dims.end(), std::int64_t{0});
  const std::int64_t t = d.n * d.h * d.w, c = d.c, k = d.kernel;
  const auto get = [&](std::string_view name) { return weights.get(name, key); };
  // s folds into the conv: (conv(abc) + b) * s = conv_{w*s}(abc) + b*s, one rounding per weight.
  Tensor dw_w = Tensor::copy_of(get("dwconv.weight")), dw_b = Tensor::copy_of(get("dwconv.bias"));
  for (std::int64_t i = 0; i < dw_w.numel(); ++i) {
    dw_w.f32()[i] = static_cast<float>(dw_w.f32()[i] * kGnconvScale);
  }
  for (std::int64_t i = 0; i < sum; ++i)
    dw_b.f32()[i] = static_cast<float>(dw_b.f32()[i] * kGnconvScale);
  const ConstTensorView in_w = get("proj_in.weight"), in_b = get("proj_in.bias");
  auto s = std::make_unique<State>(State{
      .desc = d,
      .threads = engine.threads(),
      .dims = dims,
      .dims_sum = sum,
      .in_a = LinearPlan::create(engine, {.m = t, .k = c, .n = dims[0]}, in_w.slice(0, 0, dims[0]),
                                 in_b.slice(0, 0, dims[0])),
      .in_abc = LinearPlan::create(engine, {.m = t, .k = c, .n = sum},
                                   in_w.slice(0, dims[0], 2 * c), in_b.slice(0, dims[0], 2 * c)),
      .proj_out = LinearPlan::create(engine, {.m = t, .k = c, .n = c}, get("proj_out.weight"),
                                     get("proj_out.bias")),
      .dwconv = Conv2dPlan::create(engine,
                                   {.n = d.n,
                                    .h = d.h,
                                    .w = d.w,
                                    .ic = sum,
                                    .oc = sum,
                                    .kh = k,
                                    .kw = k,
                                    .pad_h = k / 2,
                                    .pad_w = k / 2,
                                    .groups = sum},
                                   dw_w.cview(), dw_b.cview()),
      .pws = {},
      .abc = Tensor::empty({d.n, d.h, d.w, sum}),
      .dw = Tensor::empty({d.n, d.h, d.w, sum}),
      .x = Tensor::empty({t, c}),
      .y = Tensor::empty({t, c}),
      .passes = &cpu::modulation_passes(),
  });
  for (std::size_t i = 0; i + 1 < dims.size(); ++i) {
    s->pws.push_back(LinearPlan::create(engine, {.m = t, .k = dims[i], .n = dims[i + 1]},
                                        get(fmt::format("pws.{}.weight", i)),
                                        get(fmt::format("pws.{}.bias", i))));
  }
  s->impl = fmt::format("{}+{}+hand:gnconv_passes_{}", s->proj_out.impl_name(),
                        s->dwconv.impl_name(), s->passes->isa);
  return GnconvPlan(std::move(s));
}

void GnconvPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const GnconvDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == Shape({d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == Shape({d.n, d.h, d.w, d.c}));
  const std::int64_t rows = d.n * d.h * d.w, sum = s.dims_sum;
  const int threads = s.threads;
  const cpu::ModulationPasses& passes = *s.passes;
  float* x = s.x.f32();
  float* y = s.y.f32();
  s.in_a.run(src, TensorView(x, {rows, s.dims[0]}));
  s.in_abc.run(src, s.abc.view());
  s.dwconv.run(s.abc.cview(), s.dw.view());
  const float* dw = s.dw.f32();
  std::int64_t offset = 0;
  for (std::size_t i = 0; i < s.dims.size(); ++i) {
    const std::int64_t di = s.dims[i];
    if (i > 0) {
      s.pws[i - 1].run(ConstTensorView(x, {rows, s.dims[i - 1]}), TensorView(y, {rows, di}));
      std::swap(x, y);
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int part = 0; part < threads; ++part) {
      passes.multiply(x, di, dw + offset, sum, di, split(rows, part, threads),
                      split(rows, part + 1, threads));
    }
    offset += di;
  }
  s.proj_out.run(ConstTensorView(x, {rows, d.c}), dst);
}

std::string_view GnconvPlan::impl_name() const { return state_->impl; }

MixerEntry gnconv_entry() {
  return make_mixer_entry<GnconvDesc, GnconvPlan>(
      std::string(kName),
      "HorNet recursive gated conv: 1x1 proj_in, scaled depthwise kxk, order-n gated 1x1 chain, "
      "1x1 proj_out",
      gnconv_params(), gnconv_desc_from, reference::gnconv, kTolerance);
}

}  // namespace hwnas
