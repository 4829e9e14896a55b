#include "kernels/mixers/channel_attention.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/channel_attention_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "channel_attention";

// Test tolerance, relative to max(magnitude of the proj dot product, 1). qkv sums c <= 96
// products (gamma(97) ~ 6e-6 of its magnitude); each logit is scale * a sum over all N tokens of
// k*v, summed in f32 per thread (error ~ sqrt(N) u of sum|k v| * scale, ~ 1e-6 absolute for the
// logits of up to ~10 that random inputs give at N <= 200 tokens); a logit error e moves each
// probability by ~e relative, so out = A q is off by ~1e-6 * max|q|; proj multiplies by
// sum|w| ~ 0.5 sqrt(c) ~ 5 and adds gamma(c+1) of its magnitude. ~2e-5 worst case (observed < 3e-6)
// at the tested sizes; 5e-5 leaves headroom while a swapped q/k/v, a wrong head or a transposed A
// moves outputs by
// >= 1e-2.
constexpr double kTolerance = 5e-5;

// acc[head, i, j] += k[t, head, i] * v[t, head, j] for tokens [t0, t1) of one sample's qkv rows.
[[gnu::always_inline]] inline void kv_body(const float* qkv, std::int64_t t0, std::int64_t t1,
                                           std::int64_t c, std::int64_t hd, float* acc) noexcept {
  for (std::int64_t t = t0; t < t1; ++t) {
    const float* k = qkv + t * 3 * c + c;
    const float* v = k + c;
    for (std::int64_t row = 0; row < c; ++row) {  // row = head * hd + i
      const float ki = k[row];
      const float* vh = v + row / hd * hd;
      float* a = acc + row * hd;
      for (std::int64_t j = 0; j < hd; ++j) a[j] += ki * vh[j];
    }
  }
}

// out[t, head*hd + i] = sum_j attn_t[head, j, i] * q[t, head, j] for tokens [t0, t1).
[[gnu::always_inline]] inline void apply_body(const float* qkv, const float* attn_t,
                                              std::int64_t t0, std::int64_t t1, std::int64_t c,
                                              std::int64_t hd, float* out) noexcept {
  for (std::int64_t t = t0; t < t1; ++t) {
    const float* q = qkv + t * 3 * c;
    float* o = out + t * c;
    for (std::int64_t head0 = 0; head0 < c; head0 += hd) {
      float* oh = o + head0;
      for (std::int64_t i = 0; i < hd; ++i) oh[i] = 0.f;
      for (std::int64_t j = 0; j < hd; ++j) {
        const float qj = q[head0 + j];
        const float* row = attn_t + (head0 + j) * hd;
        for (std::int64_t i = 0; i < hd; ++i) oh[i] += qj * row[i];
      }
    }
  }
}

using KvFn = void (*)(const float*, std::int64_t, std::int64_t, std::int64_t, std::int64_t,
                      float*) noexcept;
using ApplyFn = void (*)(const float*, const float*, std::int64_t, std::int64_t, std::int64_t,
                         std::int64_t, float*) noexcept;

void kv_generic(const float* qkv, std::int64_t t0, std::int64_t t1, std::int64_t c, std::int64_t hd,
                float* acc) noexcept {
  kv_body(qkv, t0, t1, c, hd, acc);
}
[[gnu::target("avx512f,avx512bw,avx512dq,avx512vl")]] void kv_avx512(
    const float* qkv, std::int64_t t0, std::int64_t t1, std::int64_t c, std::int64_t hd,
    float* acc) noexcept {
  kv_body(qkv, t0, t1, c, hd, acc);
}
void apply_generic(const float* qkv, const float* attn_t, std::int64_t t0, std::int64_t t1,
                   std::int64_t c, std::int64_t hd, float* out) noexcept {
  apply_body(qkv, attn_t, t0, t1, c, hd, out);
}
[[gnu::target("avx512f,avx512bw,avx512dq,avx512vl")]] void apply_avx512(
    const float* qkv, const float* attn_t, std::int64_t t0, std::int64_t t1, std::int64_t c,
    std::int64_t hd, float* out) noexcept {
  apply_body(qkv, attn_t, t0, t1, c, hd, out);
}

}  // namespace

std::span<const ParamSpec> channel_attention_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "heads",
                 .default_value = "3",
                 .min = 1,
                 .max = 1 << 16,
                 .help = "channel groups (divides c)"});
    s.push_back({.name = "qkv_bias",
                 .default_value = "1",
                 .min = 0,
                 .max = 1,
                 .help = "bias on the qkv projection (DaViT: 1)"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const ChannelAttentionDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)},
                          {"heads", std::to_string(d.heads)},
                          {"qkv_bias", d.qkv_bias == Bias::Add ? "1" : "0"}});
}

ChannelAttentionDesc channel_attention_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const ChannelAttentionDesc d{.n = s.n,
                               .h = s.h,
                               .w = s.w,
                               .c = s.c,
                               .heads = p.integer("heads"),
                               .qkv_bias = p.integer("qkv_bias") != 0 ? Bias::Add : Bias::None};
  check(d);
  return d;
}

void check(const ChannelAttentionDesc& d) {
  const auto positive = [&](std::string_view name, std::int64_t v) {
    check_positive(kName, name, v, to_string(d));
  };
  positive("n", d.n);
  positive("h", d.h);
  positive("w", d.w);
  positive("c", d.c);
  positive("heads", d.heads);
  check_heads_divide_channels(kName, d.heads, d.c, to_string(d));
}

OpCost cost(const ChannelAttentionDesc& d) {
  const double t = static_cast<double>(d.n * d.h * d.w);
  const double c = static_cast<double>(d.c), hd = static_cast<double>(d.c / d.heads);
  const std::int64_t params =
      3 * d.c * d.c + (d.qkv_bias == Bias::Add ? 3 * d.c : 0) + d.c * d.c + d.c;
  return {.flops = 2 * t * c * 3 * c + 2 * 2 * t * c * hd + 2 * t * c * c,
          .bytes = 4.0 * (2 * t * c + static_cast<double>(params)),
          .params = params};
}

std::vector<WeightSpec> weight_specs(const ChannelAttentionDesc& d) {
  const std::int64_t c = d.c;
  std::vector<WeightSpec> specs = {
      with_segments({"qkv.weight", {3 * c, c}, WeightKind::Matrix}, 0, {c, c, c})};
  if (d.qkv_bias == Bias::Add) {
    specs.push_back(with_segments({"qkv.bias", {3 * c}, WeightKind::Bias}, 0, {c, c, c}));
  }
  specs.push_back({"proj.weight", {d.c, d.c}, WeightKind::Matrix});
  specs.push_back({"proj.bias", {d.c}, WeightKind::Bias});
  return specs;
}

struct ChannelAttentionPlan::State {
  ChannelAttentionDesc desc;
  int threads = 1;
  LinearPlan qkv, proj;
  Tensor qkv_out;  // [n*h*w, 3c]
  Tensor mixed;    // [n*h*w, c]: the heads' outputs, proj's input
  Tensor partial;  // [threads, c, d]: per-thread sums of k^T v
  Tensor attn_t;   // [c, d]: per head, softmax(scale k^T v) transposed ([head, j, i])
  Tensor logits;   // [d]: one row of the softmax
  KvFn kv = nullptr;
  ApplyFn apply = nullptr;
  std::string impl;
};

ChannelAttentionPlan::ChannelAttentionPlan(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
ChannelAttentionPlan::ChannelAttentionPlan(ChannelAttentionPlan&&) noexcept = default;
ChannelAttentionPlan& ChannelAttentionPlan::operator=(ChannelAttentionPlan&&) noexcept = default;
ChannelAttentionPlan::~ChannelAttentionPlan() = default;

ChannelAttentionPlan ChannelAttentionPlan::create(const Engine& engine,
                                                  const ChannelAttentionDesc& d,
                                                  const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const std::int64_t t = d.n * d.h * d.w, hd = d.c / d.heads;
  // Contiguous copies: the views may be slices of larger tensors with any strides.
  const auto copy = [&](std::string_view name) { return Tensor::copy_of(weights.get(name, key)); };
  const Tensor qkv_w = copy("qkv.weight"), proj_w = copy("proj.weight"), proj_b = copy("proj.bias");
  const Tensor qkv_b = d.qkv_bias == Bias::Add ? copy("qkv.bias") : Tensor();
  const bool avx512 = __builtin_cpu_supports("avx512f");
  auto s = std::make_unique<State>(State{
      .desc = d,
      .threads = engine.threads(),
      .qkv = LinearPlan::create(engine, {.m = t, .k = d.c, .n = 3 * d.c, .bias = d.qkv_bias},
                                qkv_w.cview(), qkv_b.cview()),
      .proj =
          LinearPlan::create(engine, {.m = t, .k = d.c, .n = d.c}, proj_w.cview(), proj_b.cview()),
      .qkv_out = Tensor::empty({t, 3 * d.c}),
      .mixed = Tensor::empty({t, d.c}),
      .partial = Tensor::empty({engine.threads(), d.c * hd}),
      .attn_t = Tensor::empty({d.c, hd}),
      .logits = Tensor::empty({hd}),
      .kv = avx512 ? kv_avx512 : kv_generic,
      .apply = avx512 ? apply_avx512 : apply_generic,
  });
  s->impl = fmt::format("hand:channel_attention_{}+{}", avx512 ? "avx512" : "generic",
                        s->proj.impl_name());
  return ChannelAttentionPlan(std::move(s));
}

void ChannelAttentionPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const ChannelAttentionDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == Shape({d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == Shape({d.n, d.h, d.w, d.c}));
  s.qkv.run(src, s.qkv_out.view());
  const std::int64_t tokens = d.h * d.w, c = d.c, hd = d.c / d.heads;
  const std::int64_t block = c * hd;
  const int threads = s.threads;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
  float* partial = s.partial.f32();
  float* attn_t = s.attn_t.f32();
  const KvFn kv = s.kv;
  const ApplyFn apply = s.apply;
  for (std::int64_t n = 0; n < d.n; ++n) {
    const float* qkv = s.qkv_out.f32() + n * tokens * 3 * c;
    // k^T v is a reduction over every token: each thread sums its own slice of tokens.
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int part = 0; part < threads; ++part) {
      float* acc = partial + part * block;
      std::fill(acc, acc + block, 0.f);
      kv(qkv, tokens * part / threads, tokens * (part + 1) / threads, c, hd, acc);
    }
    // Sum the partials, softmax each row of each head's d x d matrix, store it transposed so the
    // per-token product runs along contiguous rows.
    for (std::int64_t row = 0; row < c; ++row) {  // row = head * hd + i
      float* l = s.logits.f32();
      float row_max = -INFINITY;
      for (std::int64_t j = 0; j < hd; ++j) {
        float sum = 0;
        for (int part = 0; part < threads; ++part) sum += partial[part * block + row * hd + j];
        l[j] = sum * scale;
        row_max = std::max(row_max, l[j]);
      }
      float total = 0;
      for (std::int64_t j = 0; j < hd; ++j) total += (l[j] = std::exp(l[j] - row_max));
      const float inv = 1.f / total;
      const std::int64_t head0 = row / hd * hd, i = row % hd;
      for (std::int64_t j = 0; j < hd; ++j) attn_t[(head0 + j) * hd + i] = l[j] * inv;
    }
    float* out = s.mixed.f32() + n * tokens * c;
    constexpr std::int64_t kTokenBlock = 64;
    const std::int64_t blocks = (tokens + kTokenBlock - 1) / kTokenBlock;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t b = 0; b < blocks; ++b) {
      apply(qkv, attn_t, b * kTokenBlock, std::min(tokens, (b + 1) * kTokenBlock), c, hd, out);
    }
  }
  s.proj.run(s.mixed.cview(), dst);
}

std::string_view ChannelAttentionPlan::impl_name() const { return state_->impl; }

MixerEntry channel_attention_entry() {
  return make_mixer_entry<ChannelAttentionDesc, ChannelAttentionPlan>(
      std::string(kName),
      "DaViT channel group attention: per head a d x d softmax(k^T v) over all tokens mixes q's "
      "channels, 1x1 proj",
      channel_attention_params(), channel_attention_desc_from, reference::channel_attention,
      kTolerance);
}

}  // namespace hwnas
