#include "kernels/mixers/single_head_attention.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kernels/assert.hpp"
#include "kernels/cpu/attention_tile.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/single_head_attention_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "single_head_attention";

// Queries per attention tile: a tile's scores (32 x h*w floats, 400 KB at 56x56) stay in L2.
constexpr std::int64_t kQueryBlock = 32;

// Test tolerance, relative to max(magnitude of the proj dot product, 1). The chain in f32: the
// GroupNorm statistics are summed in double (error ~u); qkv sums pdim <= 96 products
// (gamma(97) ~ 6e-6 of its magnitude, ~1e-6 in practice); the logits carry that error (x scale
// 0.25, |logit| <~ 4), so each probability is off by ~1e-6 relative, and the output of P.V over
// <= 200 keys by ~1e-6 of max|v| ~ 2; proj then multiplies those errors by sum|w| ~ 0.5*sqrt(c)
// ~ 5, and adds gamma(c+1) ~ 6e-6 of the magnitude. Together ~2e-5 worst case at the tested sizes
// (observed < 2e-6); 5e-5 leaves headroom, while a dropped channel, a wrong key or a local (not
// global) GroupNorm moves outputs by >= 1e-2.
constexpr double kTolerance = 5e-5;

}  // namespace

std::span<const ParamSpec> single_head_attention_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "pdim",
                 .default_value = "32",
                 .min = 1,
                 .max = 1 << 16,
                 .help = "channels through attention (SHViT's partial dim), <= c"});
    s.push_back({.name = "qk_dim",
                 .default_value = "16",
                 .min = 1,
                 .max = 1 << 12,
                 .help = "query/key width"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const SingleHeadAttentionDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)},
                          {"pdim", std::to_string(d.pdim)},
                          {"qk_dim", std::to_string(d.qk_dim)}});
}

SingleHeadAttentionDesc single_head_attention_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const SingleHeadAttentionDesc d{.n = s.n,
                                  .h = s.h,
                                  .w = s.w,
                                  .c = s.c,
                                  .pdim = p.integer("pdim"),
                                  .qk_dim = p.integer("qk_dim")};
  check(d);
  return d;
}

void check(const SingleHeadAttentionDesc& d) {
  const auto positive = [&](std::string_view name, std::int64_t v) {
    check_positive(kName, name, v, to_string(d));
  };
  positive("n", d.n);
  positive("h", d.h);
  positive("w", d.w);
  positive("c", d.c);
  positive("pdim", d.pdim);
  positive("qk_dim", d.qk_dim);
  if (d.pdim > d.c) {
    throw InvalidArgument(fmt::format(
        "{}: pdim={} must be <= c={} (the attention slice is part of the channels) [{}]", kName,
        d.pdim, d.c, to_string(d)));
  }
}

OpCost cost(const SingleHeadAttentionDesc& d) {
  const double tokens = static_cast<double>(d.h * d.w);
  const double t = static_cast<double>(d.n) * tokens;
  const double c = static_cast<double>(d.c), p = static_cast<double>(d.pdim),
               qk = static_cast<double>(d.qk_dim);
  const double qkv_out = 2 * qk + p;
  const double flops = 2 * t * p * qkv_out + 2 * t * tokens * (qk + p) + 2 * t * c * c;
  const std::int64_t params = 2 * d.pdim + (2 * d.qk_dim + d.pdim) * (d.pdim + 1) + d.c * (d.c + 1);
  return {
      .flops = flops, .bytes = 4.0 * (2 * t * c + static_cast<double>(params)), .params = params};
}

std::vector<WeightSpec> weight_specs(const SingleHeadAttentionDesc& d) {
  const std::int64_t qkv_out = 2 * d.qk_dim + d.pdim;
  return {
      {"pre_norm.weight", {d.pdim}, WeightKind::NormScale},
      {"pre_norm.bias", {d.pdim}, WeightKind::NormShift},
      with_segments({"qkv.weight", {qkv_out, d.pdim}, WeightKind::Matrix}, 0,
                    {d.qk_dim, d.qk_dim, d.pdim}),
      with_segments({"qkv.bias", {qkv_out}, WeightKind::Bias}, 0, {d.qk_dim, d.qk_dim, d.pdim}),
      {"proj.weight", {d.c, d.c}, WeightKind::Matrix},
      {"proj.bias", {d.c}, WeightKind::Bias},
  };
}

struct SingleHeadAttentionPlan::State {
  SingleHeadAttentionDesc desc;
  int threads = 1;
  LinearPlan qkv, proj;
  Tensor gamma, beta;             // [pdim]
  Tensor norm_scale, norm_shift;  // [pdim], this run's GroupNorm folded into x * a + b
  Tensor normed;                  // [n*h*w, pdim]
  Tensor qkv_out;                 // [n*h*w, 2*qk_dim + pdim]
  Tensor concat;                  // [n*h*w, c]: ReLU(cat(attention out, x2)), proj's input
  Tensor scratch;                 // [threads, scratch_stride]
  std::int64_t scratch_stride = 0;
  std::string impl;
};

SingleHeadAttentionPlan::SingleHeadAttentionPlan(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
SingleHeadAttentionPlan::SingleHeadAttentionPlan(SingleHeadAttentionPlan&&) noexcept = default;
SingleHeadAttentionPlan& SingleHeadAttentionPlan::operator=(SingleHeadAttentionPlan&&) noexcept =
    default;
SingleHeadAttentionPlan::~SingleHeadAttentionPlan() = default;

SingleHeadAttentionPlan SingleHeadAttentionPlan::create(const Engine& engine,
                                                        const SingleHeadAttentionDesc& d,
                                                        const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const std::int64_t t = d.n * d.h * d.w;
  const std::int64_t qkv_out = 2 * d.qk_dim + d.pdim;
  // Contiguous copies: the views may be slices of larger tensors with any strides.
  const auto copy = [&](std::string_view name) { return Tensor::copy_of(weights.get(name, key)); };
  const Tensor qkv_w = copy("qkv.weight"), qkv_b = copy("qkv.bias");
  const Tensor proj_w = copy("proj.weight"), proj_b = copy("proj.bias");
  auto s = std::make_unique<State>(State{
      .desc = d,
      .threads = engine.threads(),
      .qkv = LinearPlan::create(engine, {.m = t, .k = d.pdim, .n = qkv_out}, qkv_w.cview(),
                                qkv_b.cview()),
      .proj =
          LinearPlan::create(engine, {.m = t, .k = d.c, .n = d.c}, proj_w.cview(), proj_b.cview()),
      .gamma = copy("pre_norm.weight"),
      .beta = copy("pre_norm.bias"),
      .norm_scale = Tensor::empty({d.pdim}),
      .norm_shift = Tensor::empty({d.pdim}),
      .normed = Tensor::empty({t, d.pdim}),
      .qkv_out = Tensor::empty({t, qkv_out}),
      .concat = Tensor::empty({t, d.c}),
  });
  const std::int64_t per_thread =
      cpu::attention_tile_scratch_floats(kQueryBlock, d.h * d.w, d.qk_dim, d.pdim);
  s->scratch_stride = (per_thread + 15) / 16 * 16;  // keeps each thread's scratch 64-byte aligned
  s->scratch = Tensor::empty({s->threads, s->scratch_stride});
  s->impl = fmt::format("hand:shsa(tile:{})+{}", cpu::attention_tile_impl(), s->proj.impl_name());
  return SingleHeadAttentionPlan(std::move(s));
}

void SingleHeadAttentionPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const SingleHeadAttentionDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == Shape({d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == Shape({d.n, d.h, d.w, d.c}));
  const std::int64_t hw = d.h * d.w, c = d.c, pdim = d.pdim;
  const std::int64_t qkv_ld = 2 * d.qk_dim + pdim;
  const float* x = src.f32();
  float* normed = s.normed.f32();
  float* a = s.norm_scale.f32();
  float* b = s.norm_shift.f32();
  const int threads = s.threads;

  // GroupNorm with one group: statistics over the whole [hw, pdim] slice of each sample, summed in
  // double because the slice holds up to ~10^5 values (an f32 sum would lose ~1e-3).
  for (std::int64_t n = 0; n < d.n; ++n) {
    const float* xs = x + n * hw * c;
    double sum = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : sum) schedule(static)
    for (std::int64_t t = 0; t < hw; ++t) {
      float part = 0;
      for (std::int64_t ch = 0; ch < pdim; ++ch) part += xs[t * c + ch];
      sum += part;
    }
    const double count = static_cast<double>(hw * pdim);
    const double mean = sum / count;
    double sq = 0;
#pragma omp parallel for num_threads(threads) reduction(+ : sq) schedule(static)
    for (std::int64_t t = 0; t < hw; ++t) {
      double part = 0;
      for (std::int64_t ch = 0; ch < pdim; ++ch) {
        const double dev = xs[t * c + ch] - mean;
        part += dev * dev;
      }
      sq += part;
    }
    const double rstd = 1.0 / std::sqrt(sq / count + kSingleHeadAttentionGroupNormEps);
    for (std::int64_t ch = 0; ch < pdim; ++ch) {
      const double scale = rstd * s.gamma.f32()[ch];
      a[ch] = static_cast<float>(scale);
      b[ch] = static_cast<float>(s.beta.f32()[ch] - mean * scale);
    }
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t t = 0; t < hw; ++t) {
      const float* in = xs + t * c;
      float* out = normed + (n * hw + t) * pdim;
      for (std::int64_t ch = 0; ch < pdim; ++ch) out[ch] = in[ch] * a[ch] + b[ch];
    }
  }

  s.qkv.run(s.normed.cview(), s.qkv_out.view());

  // One tile per (sample, block of queries); the tile writes the attention output straight into
  // the concat buffer, then the same rows get the ReLU and the untouched x2 channels.
  const std::int64_t blocks = (hw + kQueryBlock - 1) / kQueryBlock;
  const float* qkv = s.qkv_out.f32();
  float* concat = s.concat.f32();
  float* scratch = s.scratch.f32();
  const std::int64_t scratch_stride = s.scratch_stride;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.qk_dim)));
  const std::int64_t qk = d.qk_dim;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t job = 0; job < d.n * blocks; ++job) {
    const std::int64_t n = job / blocks, q0 = (job % blocks) * kQueryBlock;
    const std::int64_t m = std::min(kQueryBlock, hw - q0);
    const float* base = qkv + n * hw * qkv_ld;
    const std::int64_t row0 = n * hw + q0;
    cpu::attention_tile({.q = qkv + row0 * qkv_ld,
                         .q_stride = qkv_ld,
                         .k = base + qk,
                         .k_stride = qkv_ld,
                         .v = base + 2 * qk,
                         .v_stride = qkv_ld,
                         .o = concat + row0 * c,
                         .o_stride = c,
                         .m = m,
                         .n = hw,
                         .dk = qk,
                         .dv = pdim,
                         .scale = scale},
                        scratch + omp_get_thread_num() * scratch_stride);
    for (std::int64_t r = row0; r < row0 + m; ++r) {
      float* out = concat + r * c;
      const float* in = x + r * c;
      for (std::int64_t ch = 0; ch < pdim; ++ch) out[ch] = std::max(out[ch], 0.f);
      for (std::int64_t ch = pdim; ch < c; ++ch) out[ch] = std::max(in[ch], 0.f);
    }
  }

  s.proj.run(s.concat.cview(), dst);
}

std::string_view SingleHeadAttentionPlan::impl_name() const { return state_->impl; }

MixerEntry single_head_attention_entry() {
  return make_mixer_entry<SingleHeadAttentionDesc, SingleHeadAttentionPlan>(
      std::string(kName),
      "SHViT single-head attention on the first pdim channels (GroupNorm, global softmax "
      "attention), ReLU, 1x1 proj",
      single_head_attention_params(), single_head_attention_desc_from,
      reference::single_head_attention, kTolerance);
}

}  // namespace hwnas
