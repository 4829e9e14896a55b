#include "kernels/mixers/linear_attention.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <optional>

#include "kernels/assert.hpp"
#include "kernels/cpu/linear_attention_kernels.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/linear_attention_ref.hpp"

namespace hwnas {

namespace {

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 16;
constexpr std::int64_t kMaxLocalKernel = 13;
// Tokens per work item of the application step: enough to amortise the loop, few enough to
// balance two threads on a 7x7 map.
constexpr std::int64_t kApplyBlock = 32;

// Tolerance, |got - ref| <= kTolerance * max(magnitude, 1), magnitude = the proj dot product's
// sum |w*a| + |b|. The chain: q, k, v are dot products of length c (Higham: relative error
// <= gamma(c+1) of their magnitude, 5.7e-6 at c = 96 in the worst case, ~1e-7 in practice); phi is
// 1-Lipschitz (relu, elu+1) and elu+1's exp adds ~3 ulp. KV and z are sums over N tokens of
// non-negative weights phi(k) times v (gamma(N) relative to sum |phi(k) v|, summed in a different
// order by each thread count), the numerator and denominator add d more terms; since phi >= 0 the
// output is a convex combination of the v_n, so its error relative to max|v| stays within
// ~2 gamma(N + d) in the worst case and ~sqrt(N + d) u in practice; the DWC adds a k*k+1 term dot
// product and proj gamma(c+1) * magnitude. Measured with the tests' random weights: at most
// 2.2e-7 of the magnitude (N up to 3136 at 56x56, c up to 384), so 1e-5 leaves a factor > 40, while
// a wrong head, token or tap (an error of the order of |v| in a, >= 1e-2 of the magnitude) fails by
// orders of magnitude.
constexpr double kTolerance = 1e-5;

}  // namespace

std::string_view to_string(FeatureMap map) { return map == FeatureMap::Relu ? "relu" : "elu1"; }

FeatureMap parse_feature_map(std::string_view s) {
  if (s == "relu") return FeatureMap::Relu;
  if (s == "elu1") return FeatureMap::Elu1;
  throw InvalidArgument(fmt::format("linear_attention: feature_map={} must be relu or elu1", s));
}

std::span<const ParamSpec> linear_attention_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> specs = mixer_shape_params();
    specs.push_back({.name = "heads",
                     .default_value = "3",
                     .min = 1,
                     .max = kMaxExtent,
                     .help = "attention heads; must divide c"});
    specs.push_back({.name = "feature_map",
                     .default_value = "elu1",
                     .choices = {"relu", "elu1"},
                     .help = "phi on q and k: elu(x)+1 (Katharopoulos et al.) or relu"});
    specs.push_back(
        {.name = "local_kernel",
         .default_value = "0",
         .min = 0,
         .max = kMaxLocalKernel,
         .help = "depthwise conv on v added to the output (FLatten): 0 = none, odd 3..13"});
    specs.push_back(
        {.name = "qkv_bias", .default_value = "1", .min = 0, .max = 1, .help = "qkv has a bias"});
    return specs;
  }();
  return kSpecs;
}

std::string to_string(const LinearAttentionDesc& d) {
  const auto s = [](std::int64_t v) { return std::to_string(v); };
  return make_key("linear_attention", {{"n", s(d.n)},
                                       {"h", s(d.h)},
                                       {"w", s(d.w)},
                                       {"c", s(d.c)},
                                       {"heads", s(d.heads)},
                                       {"feature_map", std::string(to_string(d.feature_map))},
                                       {"local_kernel", s(d.local_kernel)},
                                       {"qkv_bias", d.qkv_bias == Bias::Add ? "1" : "0"}});
}

LinearAttentionDesc linear_attention_desc_from(const Params& p) {
  const MixerShape shape = mixer_shape_from(p);
  LinearAttentionDesc d{.n = shape.n,
                        .h = shape.h,
                        .w = shape.w,
                        .c = shape.c,
                        .heads = p.integer("heads"),
                        .feature_map = parse_feature_map(p.word("feature_map")),
                        .local_kernel = p.integer("local_kernel"),
                        .qkv_bias = p.integer("qkv_bias") != 0 ? Bias::Add : Bias::None};
  check(d);
  return d;
}

void check(const LinearAttentionDesc& d) {
  const std::string key = to_string(d);
  const auto at_least = [&](std::string_view name, std::int64_t v, std::int64_t lo) {
    if (v < lo) {
      throw InvalidArgument(
          fmt::format("linear_attention: {}={} must be >= {} [{}]", name, v, lo, key));
    }
  };
  at_least("n", d.n, 1);
  at_least("h", d.h, 1);
  at_least("w", d.w, 1);
  at_least("c", d.c, 1);
  at_least("heads", d.heads, 1);
  check_heads_divide_channels("linear_attention", d.heads, d.c, key);
  const std::int64_t k = d.local_kernel;
  if (k != 0 && (k < 3 || k > kMaxLocalKernel || k % 2 == 0)) {
    throw InvalidArgument(
        fmt::format("linear_attention: local_kernel={} must be 0 (none) or odd in 3..{} [{}]", k,
                    kMaxLocalKernel, key));
  }
}

OpCost cost(const LinearAttentionDesc& d) {
  const auto f = [](std::int64_t v) { return static_cast<double>(v); };
  const double tokens = f(d.n) * f(d.h) * f(d.w);
  const double head_dim = f(d.c / d.heads);
  const double attention = f(d.heads) * 2.0 * tokens * head_dim * head_dim * 2.0;
  const double k2 = f(d.local_kernel * d.local_kernel);
  const std::int64_t qkv_params = 3 * d.c * d.c + (d.qkv_bias == Bias::Add ? 3 * d.c : 0);
  const std::int64_t dwc_params =
      d.local_kernel > 0 ? d.c * d.local_kernel * d.local_kernel + d.c : 0;
  const std::int64_t params = qkv_params + d.c * d.c + d.c + dwc_params;
  return {.flops = 2.0 * tokens * f(d.c) * 4.0 * f(d.c) + attention + 2.0 * tokens * f(d.c) * k2,
          .bytes = 4.0 * (2.0 * tokens * f(d.c) + f(params)),
          .params = params};
}

std::vector<WeightSpec> weight_specs(const LinearAttentionDesc& d) {
  const std::int64_t c = d.c;
  std::vector<WeightSpec> specs = {
      with_segments({"qkv.weight", {3 * c, c}, WeightKind::Matrix}, 0, {c, c, c})};
  if (d.qkv_bias == Bias::Add) {
    specs.push_back(with_segments({"qkv.bias", {3 * c}, WeightKind::Bias}, 0, {c, c, c}));
  }
  specs.push_back({"proj.weight", {d.c, d.c}, WeightKind::Matrix});
  specs.push_back({"proj.bias", {d.c}, WeightKind::Bias});
  if (d.local_kernel > 0) {
    const std::int64_t k = d.local_kernel;
    specs.push_back({"dwc.weight", {d.c, 1, k, k}, WeightKind::Matrix});
    specs.push_back({"dwc.bias", {d.c}, WeightKind::Bias});
  }
  return specs;
}

namespace {

Conv2dDesc dwc_desc(const LinearAttentionDesc& d) {
  const std::int64_t k = d.local_kernel;
  return {.n = d.n,
          .h = d.h,
          .w = d.w,
          .ic = d.c,
          .oc = d.c,
          .kh = k,
          .kw = k,
          .pad_h = k / 2,
          .pad_w = k / 2,
          .groups = d.c,
          .bias = Bias::Add};
}

}  // namespace

struct LinearAttentionPlan::State {
  LinearAttentionDesc desc;
  Engine engine;
  LinearPlan qkv;
  LinearPlan proj;
  std::optional<Conv2dPlan> dwc;
  std::string impl;
  std::int64_t head_dim = 0;
  std::int64_t kv_floats = 0;  // one (batch, head): KV [d, d] then z [d]
  Tensor qkv_buf;              // [n*h*w, 3c]
  Tensor v_buf;                // [n, h, w, c], the DWC's input (local_kernel > 0)
  Tensor attn_buf;             // [n*h*w, c]
  Tensor partial;              // [threads, n, heads, kv_floats]
  Tensor kv;                   // [n, heads, kv_floats]
};

LinearAttentionPlan::LinearAttentionPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
LinearAttentionPlan::LinearAttentionPlan(LinearAttentionPlan&&) noexcept = default;
LinearAttentionPlan& LinearAttentionPlan::operator=(LinearAttentionPlan&&) noexcept = default;
LinearAttentionPlan::~LinearAttentionPlan() = default;

LinearAttentionPlan LinearAttentionPlan::create(const Engine& engine, const LinearAttentionDesc& d,
                                                const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const std::int64_t tokens = d.n * d.h * d.w;
  const ConstTensorView no_bias;
  LinearPlan qkv =
      LinearPlan::create(engine, {.m = tokens, .k = d.c, .n = 3 * d.c, .bias = d.qkv_bias},
                         weights.get("qkv.weight", key),
                         d.qkv_bias == Bias::Add ? weights.get("qkv.bias", key) : no_bias);
  LinearPlan proj =
      LinearPlan::create(engine, {.m = tokens, .k = d.c, .n = d.c, .bias = Bias::Add},
                         weights.get("proj.weight", key), weights.get("proj.bias", key));
  auto s = std::make_unique<State>(
      State{.desc = d, .engine = engine, .qkv = std::move(qkv), .proj = std::move(proj)});
  s->impl = fmt::format("omp:linear_attention_{}+{}", cpu::linear_attention_kernels_impl(),
                        s->qkv.impl_name());
  if (d.local_kernel > 0) {
    s->dwc = Conv2dPlan::create(engine, dwc_desc(d), weights.get("dwc.weight", key),
                                weights.get("dwc.bias", key));
    s->impl += fmt::format("+{}", s->dwc->impl_name());
    s->v_buf = Tensor::empty({d.n, d.h, d.w, d.c});
  }
  s->head_dim = d.c / d.heads;
  s->kv_floats = s->head_dim * s->head_dim + s->head_dim;
  s->qkv_buf = Tensor::empty({tokens, 3 * d.c});
  s->attn_buf = Tensor::empty({tokens, d.c});
  s->partial = Tensor::empty({engine.threads(), d.n, d.heads, s->kv_floats});
  s->kv = Tensor::empty({d.n, d.heads, s->kv_floats});
  return LinearAttentionPlan(std::move(s));
}

void LinearAttentionPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const LinearAttentionDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == Shape({d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == Shape({d.n, d.h, d.w, d.c}));
  const std::int64_t hw = d.h * d.w, tokens = d.n * hw, c = d.c, c3 = 3 * d.c;
  const std::int64_t hd = s.head_dim, kvf = s.kv_floats;
  const bool local = s.dwc.has_value();
  float* qkv = s.qkv_buf.f32();
  float* attn = s.attn_buf.f32();
  float* partial = s.partial.f32();
  float* kv = s.kv.f32();
  float* vcopy = local ? s.v_buf.f32() : nullptr;
  s.qkv.run(src.reshape({tokens, c}), TensorView(qkv, {tokens, c3}));

  // Threads actually in the team (OpenMP may give fewer than asked); the reduction reads only
  // the partial sums they wrote.
  int team = 1;
#pragma omp parallel num_threads(s.engine.threads())
  {
#pragma omp for schedule(static)
    for (std::int64_t t = 0; t < tokens; ++t) {
      float* row = qkv + t * c3;
      cpu::linear_attention_feature_map(d.feature_map, row, 2 * c);  // q and k
      if (local) std::copy_n(row + 2 * c, c, vcopy + t * c);
    }
    const int nt = omp_get_num_threads(), tid = omp_get_thread_num();
#pragma omp single
    team = nt;
    const std::int64_t t0 = hw * tid / nt, t1 = hw * (tid + 1) / nt;
    for (std::int64_t b = 0; b < d.n; ++b) {
      for (std::int64_t head = 0; head < d.heads; ++head) {
        const float* row = qkv + (b * hw + t0) * c3 + head * hd;
        float* out = partial + ((tid * d.n + b) * d.heads + head) * kvf;
        cpu::linear_attention_kv(row + c, c3, row + 2 * c, c3, t1 - t0, hd, out, out + hd * hd);
      }
    }
  }
  // The DWC writes the output buffer first; the attention step then adds into it.
  if (local)
    s.dwc->run(ConstTensorView(vcopy, {d.n, d.h, d.w, c}), TensorView(attn, {d.n, d.h, d.w, c}));

  const std::int64_t kv_total = d.n * d.heads * kvf;
  const std::int64_t blocks = (hw + kApplyBlock - 1) / kApplyBlock;
  const cpu::Accumulate accumulate = local ? cpu::Accumulate::Yes : cpu::Accumulate::No;
#pragma omp parallel num_threads(s.engine.threads())
  {
#pragma omp for schedule(static)
    for (std::int64_t i = 0; i < kv_total; ++i) {
      float sum = 0.f;
      for (int t = 0; t < team; ++t) sum += partial[t * kv_total + i];
      kv[i] = sum;
    }
#pragma omp for schedule(static)
    for (std::int64_t item = 0; item < d.n * blocks; ++item) {
      const std::int64_t b = item / blocks;
      const std::int64_t first = (item % blocks) * kApplyBlock;
      const std::int64_t count = std::min(kApplyBlock, hw - first);
      for (std::int64_t head = 0; head < d.heads; ++head) {
        const float* kvh = kv + (b * d.heads + head) * kvf;
        cpu::linear_attention_apply(qkv + (b * hw + first) * c3 + head * hd, c3, kvh, kvh + hd * hd,
                                    count, hd, kLinearAttentionEps,
                                    attn + (b * hw + first) * c + head * hd, c, accumulate);
      }
    }
  }
  s.proj.run(ConstTensorView(attn, {tokens, c}), dst.reshape({tokens, c}));
}

std::string_view LinearAttentionPlan::impl_name() const { return state_->impl; }

MixerEntry linear_attention_entry() {
  return make_mixer_entry<LinearAttentionDesc, LinearAttentionPlan>(
      "linear_attention",
      "linear attention: phi(q)^T (sum phi(k) v^T) / (phi(q)^T sum phi(k) + eps), O(N); "
      "optional depthwise conv on v (FLatten)",
      linear_attention_params(), linear_attention_desc_from,
      [](const LinearAttentionDesc& d, const ConstTensorView& src, const MixerWeights& w) {
        return reference::linear_attention(d, src, w);
      },
      kTolerance);
}

}  // namespace hwnas
