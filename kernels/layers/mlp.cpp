#include "kernels/layers/mlp.hpp"

#include <fmt/format.h>

#include <cmath>
#include <optional>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/ops/binary.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/ops/eltwise.hpp"
#include "kernels/reference/mlp_ref.hpp"

namespace hwnas {
namespace {

// Test tolerance, relative to max(magnitude of fc2's dot product (+ |residual|), 1). The chain in
// f32: fc1 sums c + 1 terms (error <= 2 gamma(c+1) of its magnitude m1 ~ 0.5 sqrt(c) ~ 5 at c = 96:
// ~6e-5 absolute, worst case); the activation adds 4e-6 relative and |f'| <= 1.13 (GELU);
// conv_ffn's 3x3 depthwise sums 10 more terms with sum|w| ~ 1.5, so carries that error x1.5 plus
// gamma(10) of its own; fc2 then sums hidden = 4c terms of |w| <= 1/sqrt(4c), multiplying the
// hidden error by sum|w| ~ 0.5 sqrt(4c) ~ 10 while its magnitude is ~ 0.5 * hidden * |a| / sqrt(4c)
// ~ 3..5, and adds its own 2 gamma(4c+1) ~ 5e-5 relative. Worst case with every error aligned:
// ~2e-4 of the magnitude at c = 96 (star_relu's square doubles fc1's relative error; gelu's
// slope 1.13 adds 13%); random-sign errors observed ~1e-6. A wrong index, a missing bias or a
// swapped GLU half moves outputs by >= 1e-2 of the magnitude, so 3e-4 still catches them.
constexpr double kTolerance = 3e-4;

constexpr std::string_view kKindNames[] = {"mlp", "conv_ffn", "glu_mlp"};

}  // namespace

std::string_view to_string(MlpKind kind) { return kKindNames[static_cast<int>(kind)]; }

std::span<const ParamSpec> mlp_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "ratio",
                 .default_value = "4",
                 .min = 0,
                 .max = 64,
                 .help = "MLP ratio: hidden = round(c * ratio)",
                 .kind = ParamSpec::Kind::Real});
    s.push_back({.name = "act",
                 .default_value = "gelu_erf",
                 .choices = {"gelu_erf", "relu", "hardswish", "star_relu"},
                 .help = "activation (glu_mlp: of the gate half)"});
    s.push_back({.name = "residual",
                 .default_value = "none",
                 .choices = {"none", "add", "layer_scale"},
                 .help = "fused into fc2: add = x + mlp, layer_scale = x + gamma * mlp"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const MlpDesc& d) {
  return make_key(to_string(d.kind), {{"n", std::to_string(d.n)},
                                      {"h", std::to_string(d.h)},
                                      {"w", std::to_string(d.w)},
                                      {"c", std::to_string(d.c)},
                                      {"ratio", fmt::format("{}", d.ratio)},
                                      {"act", std::string(to_string(d.act))},
                                      {"residual", std::string(to_string(d.residual))}});
}

MlpDesc mlp_desc_from(MlpKind kind, const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const MlpDesc d{.kind = kind,
                  .n = s.n,
                  .h = s.h,
                  .w = s.w,
                  .c = s.c,
                  .ratio = p.real("ratio"),
                  .act = parse_activation(p.word("act")),
                  .residual = parse_residual(p.word("residual"))};
  check(d);
  return d;
}

std::int64_t mlp_hidden(const MlpDesc& d) {
  return std::lround(static_cast<double>(d.c) * d.ratio);
}

void check(const MlpDesc& d) {
  const std::string_view name = to_string(d.kind);
  const auto positive = [&](std::string_view field, std::int64_t v) {
    check_positive(name, field, v, to_string(d));
  };
  positive("n", d.n);
  positive("h", d.h);
  positive("w", d.w);
  positive("c", d.c);
  if (!std::isfinite(d.ratio) || d.ratio <= 0 || d.ratio > 64 || mlp_hidden(d) < 1) {
    throw InvalidArgument(fmt::format(
        "{}: ratio={} must be in (0, 64] and give hidden = round(c*ratio) >= 1 (c={}) [{}]", name,
        d.ratio, d.c, to_string(d)));
  }
  if (d.act != Activation::GeluErf && d.act != Activation::Relu && d.act != Activation::Hardswish &&
      d.act != Activation::StarRelu) {
    throw InvalidArgument(
        fmt::format("{}: act={} must be gelu_erf, relu, hardswish or star_relu [{}]", name,
                    to_string(d.act), to_string(d)));
  }
}

std::vector<WeightSpec> weight_specs(const MlpDesc& d) {
  const std::int64_t hid = mlp_hidden(d);
  const std::int64_t fc1_out = d.kind == MlpKind::GluMlp ? 2 * hid : hid;
  // GLU's fc1 rows are value then gate: each half sliced on its own.
  const std::vector<std::int64_t> parts =
      d.kind == MlpKind::GluMlp ? std::vector<std::int64_t>{hid, hid} : std::vector{hid};
  std::vector<WeightSpec> specs = {
      with_segments({"fc1.weight", {fc1_out, d.c}, WeightKind::Matrix}, 0, parts),
      with_segments({"fc1.bias", {fc1_out}, WeightKind::Bias}, 0, parts),
  };
  if (d.kind == MlpKind::ConvFfn) {
    specs.push_back({"dwconv.dwconv.weight", {hid, 1, 3, 3}, WeightKind::Matrix});
    specs.push_back({"dwconv.dwconv.bias", {hid}, WeightKind::Bias});
  }
  if (d.act == Activation::StarRelu) {
    specs.push_back({"act.scale", {1}, WeightKind::NormScale});
    specs.push_back({"act.bias", {1}, WeightKind::NormShift});
  }
  specs.push_back({"fc2.weight", {d.c, hid}, WeightKind::Matrix});
  specs.push_back({"fc2.bias", {d.c}, WeightKind::Bias});
  if (d.residual == Residual::ScaledAdd)
    specs.push_back({"ls.gamma", {d.c}, WeightKind::NormScale});
  return specs;
}

OpCost cost(const MlpDesc& d) {
  const double t = static_cast<double>(d.n * d.h * d.w), c = static_cast<double>(d.c);
  const double hid = static_cast<double>(mlp_hidden(d));
  const double fc1_out = d.kind == MlpKind::GluMlp ? 2 * hid : hid;
  double flops = 2 * t * c * fc1_out + 2 * t * hid * c;
  if (d.kind == MlpKind::ConvFfn) flops += 2 * 9 * t * hid;
  if (d.kind == MlpKind::GluMlp) flops += t * hid;
  if (d.residual != Residual::None) flops += t * c;
  if (d.residual == Residual::ScaledAdd) flops += t * c;
  std::int64_t params = 0;
  for (const WeightSpec& s : weight_specs(d)) params += s.shape.numel();
  return {
      .flops = flops, .bytes = 4.0 * (2 * t * c + static_cast<double>(params)), .params = params};
}

Shape src_shape(const MlpDesc& d) { return {d.n, d.h, d.w, d.c}; }
Shape dst_shape(const MlpDesc& d) { return {d.n, d.h, d.w, d.c}; }

struct MlpPlan::State {
  MlpDesc desc;
  MlpOptions options;
  int threads = 1;
  std::optional<LinearPlan> fc1;   // mlp / conv_ffn: all of fc1; glu_mlp: the value half
  std::optional<LinearPlan> gate;  // glu_mlp: the gate half, act fused (not star_relu)
  std::optional<Conv2dPlan> dwconv;
  std::optional<EltwisePlan> star;  // star_relu after fc1 (mlp) or the dwconv (conv_ffn)
  StarReluCoeffs star_coeffs;
  std::optional<LinearPlan> fc2;
  std::optional<BinaryPlan> scale, add;  // ResidualFusion::Separate
  Tensor gamma;                          // [1, 1, 1, c] for Separate
  Tensor hidden, hidden2;                // [n, h, w, hidden]
  std::string impl;
};

MlpPlan::MlpPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
MlpPlan::MlpPlan(MlpPlan&&) noexcept = default;
MlpPlan& MlpPlan::operator=(MlpPlan&&) noexcept = default;
MlpPlan::~MlpPlan() = default;

MlpPlan MlpPlan::create(const Engine& engine, const MlpDesc& d, const MixerWeights& weights,
                        const MlpOptions& options) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const std::int64_t t = d.n * d.h * d.w, hid = mlp_hidden(d);
  const bool star = d.act == Activation::StarRelu;
  const Activation fused = star ? Activation::None : d.act;
  const auto copy = [&](std::string_view name) { return Tensor::copy_of(weights.get(name, key)); };
  auto s = std::make_unique<State>();
  s->desc = d;
  s->options = options;
  s->threads = engine.threads();
  s->hidden = Tensor::empty({d.n, d.h, d.w, hid});
  if (star) {
    s->star_coeffs = {.scale = weights.get("act.scale", key).f32()[0],
                      .bias = weights.get("act.bias", key).f32()[0]};
  }
  const ConstTensorView w1 = weights.get("fc1.weight", key), b1 = weights.get("fc1.bias", key);
  if (d.kind == MlpKind::GluMlp) {
    // Two plans over the halves of fc1 (timm: value first, gate second), so the gate's activation
    // fuses into its matmul and the product is one pass.
    const Tensor wv = Tensor::copy_of(w1.slice(0, 0, hid)),
                 bv = Tensor::copy_of(b1.slice(0, 0, hid));
    const Tensor wg = Tensor::copy_of(w1.slice(0, hid, 2 * hid)),
                 bg = Tensor::copy_of(b1.slice(0, hid, 2 * hid));
    s->fc1.emplace(
        LinearPlan::create(engine, {.m = t, .k = d.c, .n = hid}, wv.cview(), bv.cview()));
    s->gate.emplace(LinearPlan::create(engine, {.m = t, .k = d.c, .n = hid, .act = fused},
                                       wg.cview(), bg.cview()));
    s->hidden2 = Tensor::empty({d.n, d.h, d.w, hid});
  } else {
    const Tensor w = Tensor::copy_of(w1), b = Tensor::copy_of(b1);
    const Activation fc1_act = d.kind == MlpKind::Mlp ? fused : Activation::None;
    s->fc1.emplace(LinearPlan::create(engine, {.m = t, .k = d.c, .n = hid, .act = fc1_act},
                                      w.cview(), b.cview()));
  }
  if (d.kind == MlpKind::ConvFfn) {
    const Tensor wd = copy("dwconv.dwconv.weight"), bd = copy("dwconv.dwconv.bias");
    s->dwconv.emplace(Conv2dPlan::create(engine,
                                         {.n = d.n,
                                          .h = d.h,
                                          .w = d.w,
                                          .ic = hid,
                                          .oc = hid,
                                          .kh = 3,
                                          .kw = 3,
                                          .pad_h = 1,
                                          .pad_w = 1,
                                          .groups = hid,
                                          .act = fused},
                                         wd.cview(), bd.cview()));
    s->hidden2 = Tensor::empty({d.n, d.h, d.w, hid});
  }
  if (star && d.kind != MlpKind::GluMlp) {
    s->star.emplace(EltwisePlan::create(engine, {.numel = t * hid, .act = Activation::StarRelu},
                                        s->star_coeffs));
  }
  const Tensor w2 = copy("fc2.weight"), b2 = copy("fc2.bias");
  const bool fuse = d.residual != Residual::None && options.fusion == ResidualFusion::PostOp;
  Tensor gamma;
  if (d.residual == Residual::ScaledAdd) gamma = copy("ls.gamma");
  s->fc2.emplace(LinearPlan::create(
      engine, {.m = t, .k = hid, .n = d.c, .residual = fuse ? d.residual : Residual::None},
      w2.cview(), b2.cview(),
      fuse && d.residual == Residual::ScaledAdd ? gamma.cview() : ConstTensorView{}));
  std::string tail(s->fc2->impl_name());
  if (d.residual != Residual::None && !fuse) {
    if (d.residual == Residual::ScaledAdd) {
      s->scale.emplace(BinaryPlan::create(
          engine, {.alg = BinaryAlg::Mul, .n = 1, .h = t, .w = 1, .c = d.c, .src1 = "c"}));
      s->gamma = Tensor::copy_of(gamma.cview().reshape({1, 1, 1, d.c}));
    }
    s->add.emplace(BinaryPlan::create(
        engine, {.alg = BinaryAlg::Add, .n = 1, .h = t, .w = 1, .c = d.c, .src1 = "nhwc"}));
    tail += fmt::format("+separate:{}", s->add->impl_name());
  }
  s->impl = fmt::format("{}:{}{}{}+{}", to_string(d.kind), s->fc1->impl_name(),
                        s->dwconv ? fmt::format("+{}", s->dwconv->impl_name()) : std::string(),
                        s->star ? fmt::format("+{}", s->star->impl_name()) : std::string(), tail);
  return MlpPlan(std::move(s));
}

void MlpPlan::run(ConstTensorView src, TensorView dst) const { run(src, src, dst); }

void MlpPlan::run(ConstTensorView src, ConstTensorView residual, TensorView dst) const {
  run_impl(src, residual, dst, nullptr);
}

void MlpPlan::run_observed(ConstTensorView src, ConstTensorView residual, TensorView dst,
                           const HiddenObserver& observe) const {
  run_impl(src, residual.empty() ? src : residual, dst, &observe);
}

void MlpPlan::run_impl(ConstTensorView src, ConstTensorView residual, TensorView dst,
                       const HiddenObserver* observe) const {
  State& s = *state_;
  const MlpDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == src_shape(d));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == dst_shape(d));
  TensorView hidden = s.hidden.view();
  s.fc1->run(src, hidden);
  TensorView act_out = hidden;
  if (d.kind == MlpKind::ConvFfn) {
    act_out = s.hidden2.view();
    s.dwconv->run(hidden, act_out);
  }
  // Before the StarReLU pass overwrites the pre-activation; for the fused activations act_out
  // already holds act(x), whose sign is x's (run_observed's contract).
  if (observe != nullptr && d.kind != MlpKind::GluMlp) (*observe)(act_out);
  if (s.star) s.star->run(act_out, act_out);
  if (d.kind == MlpKind::GluMlp) {
    s.gate->run(src, s.hidden2.view());
    if (observe != nullptr) (*observe)(s.hidden2.cview());
    float* v = hidden.f32();
    const float* g = s.hidden2.f32();
    const std::int64_t total = s.hidden.numel();
    if (d.act == Activation::StarRelu) {
      const float scale = s.star_coeffs.scale, bias = s.star_coeffs.bias;
#pragma omp parallel for simd num_threads(s.threads) schedule(static)
      for (std::int64_t i = 0; i < total; ++i) {
        const float r = g[i] > 0.f ? g[i] : 0.f;
        v[i] *= scale * r * r + bias;
      }
    } else {
#pragma omp parallel for simd num_threads(s.threads) schedule(static)
      for (std::int64_t i = 0; i < total; ++i) v[i] *= g[i];
    }
  }
  if (d.residual == Residual::None) {
    s.fc2->run(act_out, dst);
  } else if (!s.add) {
    s.fc2->run(act_out, residual, dst);
  } else {
    s.fc2->run(act_out, dst);
    if (s.scale) s.scale->run(dst, s.gamma.cview(), dst);
    s.add->run(dst, residual, dst);
  }
}

std::string_view MlpPlan::impl_name() const { return state_->impl; }

namespace {
template <MlpKind kKind>
MlpDesc desc_of(const Params& p) {
  return mlp_desc_from(kKind, p);
}
reference::RefOutput ref_of(const MlpDesc& d, const ConstTensorView& src, const MixerWeights& w) {
  return reference::mlp(d, src, w);
}
}  // namespace

LayerEntry mlp_layer_entry() {
  return make_layer_entry<MlpDesc, MlpPlan>("mlp", "timm Mlp: fc1 -> act -> fc2 (+ fused residual)",
                                            mlp_params(), desc_of<MlpKind::Mlp>, ref_of,
                                            kTolerance);
}

LayerEntry conv_ffn_layer_entry() {
  return make_layer_entry<MlpDesc, MlpPlan>(
      "conv_ffn", "PVTv2 ConvFFN / Mix-FFN: fc1 -> dwconv3x3 -> act -> fc2", mlp_params(),
      desc_of<MlpKind::ConvFfn>, ref_of, kTolerance);
}

LayerEntry glu_mlp_layer_entry() {
  return make_layer_entry<MlpDesc, MlpPlan>(
      "glu_mlp", "timm GluMlp: fc1 -> value * act(gate) -> fc2", mlp_params(),
      desc_of<MlpKind::GluMlp>, ref_of, kTolerance);
}

}  // namespace hwnas
