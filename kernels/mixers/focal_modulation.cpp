#include "kernels/mixers/focal_modulation.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cstring>

#include "kernels/assert.hpp"
#include "kernels/cpu/modulation_passes.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/focal_modulation_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "focal_modulation";

// Test tolerance, relative to max(magnitude of the proj dot product, 1). Every stage is a short
// sum of products with relative error 2 gamma(K+1) of its magnitude: f and h sum c <= 96 terms
// (~1.2e-5), the depthwise convs k^2 <= 81 terms (~1e-5), the gated sum and the mean L+1 and h*w
// terms; GELU adds ~1.5e-7 absolute (A&S erfc) and has slope <= 1.13. With random weights of
// +-1/sqrt(fan_in) the values stay O(1), so q * modulator carries ~3-4e-5 of the magnitudes it is
// built from, and proj (2 gamma(c+1) ~ 1.2e-5 more) passes it on weighted by |proj.weight| ~ its
// own magnitude. Worst case ~5e-5; observed <= 1.3e-7 (c = 96, levels 2 and 4, outputs of
// magnitude ~1, so the error is ~1 ulp of the output). 1e-4 leaves
// headroom while a wrong kernel offset, gate index or a missing GELU moves outputs by >= 1e-2.
constexpr double kTolerance = 1e-4;

constexpr std::int64_t kMaxLevel = 4;

// The OpenMP row range of thread `part` of `parts` over `rows`.
std::int64_t split(std::int64_t rows, int part, int parts) { return rows * part / parts; }

}  // namespace

std::span<const ParamSpec> focal_modulation_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "focal_level",
                 .default_value = "2",
                 .min = 0,
                 .max = 64,
                 .help = "focal levels L (1..4; FocalNet-T: 2)"});
    s.push_back({.name = "focal_window",
                 .default_value = "3",
                 .min = 1,
                 .max = 63,
                 .help = "kernel of the first level (odd; FocalNet-T: 3)"});
    s.push_back({.name = "focal_factor",
                 .default_value = "2",
                 .min = 0,
                 .max = 16,
                 .help = "kernel growth per level (even; FocalNet: 2)"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const FocalModulationDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)},
                          {"focal_level", std::to_string(d.focal_level)},
                          {"focal_window", std::to_string(d.focal_window)},
                          {"focal_factor", std::to_string(d.focal_factor)}});
}

FocalModulationDesc focal_modulation_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const FocalModulationDesc d{.n = s.n,
                              .h = s.h,
                              .w = s.w,
                              .c = s.c,
                              .focal_level = p.integer("focal_level"),
                              .focal_window = p.integer("focal_window"),
                              .focal_factor = p.integer("focal_factor")};
  check(d);
  return d;
}

void check(const FocalModulationDesc& d) {
  const auto fail = [&](std::string rule) {
    throw InvalidArgument(fmt::format("{}: {} [{}]", kName, rule, to_string(d)));
  };
  for (const auto& [name, v] : {std::pair<std::string_view, std::int64_t>{"n", d.n},
                                {"h", d.h},
                                {"w", d.w},
                                {"c", d.c},
                                {"focal_window", d.focal_window}}) {
    if (v < 1) fail(fmt::format("{}={} must be >= 1", name, v));
  }
  if (d.focal_level < 1 || d.focal_level > kMaxLevel) {
    fail(fmt::format("focal_level={} must be in 1..{}", d.focal_level, kMaxLevel));
  }
  if (d.focal_window % 2 == 0) {
    fail(fmt::format("focal_window={} must be odd ('same' padding of a depthwise conv)",
                     d.focal_window));
  }
  if (d.focal_factor < 0 || d.focal_factor % 2 != 0) {
    fail(
        fmt::format("focal_factor={} must be even and >= 0 (every kernel focal_factor*l + "
                    "focal_window must be odd)",
                    d.focal_factor));
  }
}

std::int64_t focal_kernel(const FocalModulationDesc& d, std::int64_t level) {
  return d.focal_factor * level + d.focal_window;
}

OpCost cost(const FocalModulationDesc& d) {
  const double t = static_cast<double>(d.n * d.h * d.w), c = static_cast<double>(d.c);
  const std::int64_t f_out = 2 * d.c + d.focal_level + 1;
  double flops = 2 * t * c * static_cast<double>(f_out) + 2 * 2 * t * c * c;
  std::int64_t params = f_out * d.c + f_out + 2 * (d.c * d.c + d.c);
  for (std::int64_t l = 0; l < d.focal_level; ++l) {
    const std::int64_t k = focal_kernel(d, l);
    flops += 2 * t * c * static_cast<double>(k * k);
    params += d.c * k * k;
  }
  return {
      .flops = flops, .bytes = 4.0 * (2 * t * c + static_cast<double>(params)), .params = params};
}

std::vector<WeightSpec> weight_specs(const FocalModulationDesc& d) {
  const std::int64_t f_out = 2 * d.c + d.focal_level + 1;
  // f's rows are q, ctx and the focal_level + 1 gates: each part sliced on its own.
  const std::vector<std::int64_t> parts = {d.c, d.c, d.focal_level + 1};
  std::vector<WeightSpec> specs = {
      with_segments({"f.weight", {f_out, d.c}, WeightKind::Matrix}, 0, parts),
      with_segments({"f.bias", {f_out}, WeightKind::Bias}, 0, parts)};
  for (std::int64_t l = 0; l < d.focal_level; ++l) {
    const std::int64_t k = focal_kernel(d, l);
    specs.push_back(
        {fmt::format("focal_layers.{}.0.weight", l), {d.c, 1, k, k}, WeightKind::Matrix});
  }
  specs.push_back({"h.weight", {d.c, d.c}, WeightKind::Matrix});
  specs.push_back({"h.bias", {d.c}, WeightKind::Bias});
  specs.push_back({"proj.weight", {d.c, d.c}, WeightKind::Matrix});
  specs.push_back({"proj.bias", {d.c}, WeightKind::Bias});
  return specs;
}

// Buffers: qg holds q and the gates side by side (one matmul fills both; the passes read them
// strided), ctx0 the first context (the depthwise conv wants it contiguous). conv and ctx ping-pong
// through the levels; ctx_all collects the gated sum, then mod the 1x1 conv of it, then x_out.
// Profile (2 threads, stage shapes 56x56x96 .. 7x7x768): the four matmuls take 72-95% of the time
// at ~400 GFLOP/s; the depthwise convs 5-14% and the elementwise passes 3-15%. GELU + gating in one
// pass measured even with a GELU pass plus a gating pass (its cost is GELU's arithmetic, the data
// being L2-resident), and oneDNN's depthwise conv with a GELU post-op ran 2x slower than the hand
// conv + this pass, so the pass stays separate from the conv; folding the global term into the
// final pass (below) saves one pass over ctx_all.
struct FocalModulationPlan::State {
  FocalModulationDesc desc;
  int threads = 1;
  LinearPlan f_qg, f_ctx, h, proj;
  std::vector<Conv2dPlan> levels;
  Tensor h_weight_t;  // [c, c]: W_h transposed, applied to the per-sample global context
  Tensor qg, ctx, conv, ctx_all, mod;
  Tensor partial;  // [threads, c]: per-thread channel sums of the last level
  Tensor hg;       // [n, c]: W_h . GELU(mean of the last level)
  const cpu::ModulationPasses* passes = nullptr;
  std::string impl;
};

FocalModulationPlan::FocalModulationPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
FocalModulationPlan::FocalModulationPlan(FocalModulationPlan&&) noexcept = default;
FocalModulationPlan& FocalModulationPlan::operator=(FocalModulationPlan&&) noexcept = default;
FocalModulationPlan::~FocalModulationPlan() = default;

FocalModulationPlan FocalModulationPlan::create(const Engine& engine, const FocalModulationDesc& d,
                                                const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const std::int64_t t = d.n * d.h * d.w, c = d.c, gates = d.focal_level + 1;
  const auto copy = [&](std::string_view name) { return Tensor::copy_of(weights.get(name, key)); };
  const Tensor f_w = copy("f.weight"), f_b = copy("f.bias");
  // f's rows in the order of qg: q (rows 0..c), then the gates (rows 2c..2c+L+1).
  Tensor qg_w = Tensor::empty({c + gates, c}), qg_b = Tensor::empty({c + gates});
  std::memcpy(qg_w.f32(), f_w.f32(), sizeof(float) * static_cast<std::size_t>(c * c));
  std::memcpy(qg_w.f32() + c * c, f_w.f32() + 2 * c * c,
              sizeof(float) * static_cast<std::size_t>(gates * c));
  std::memcpy(qg_b.f32(), f_b.f32(), sizeof(float) * static_cast<std::size_t>(c));
  std::memcpy(qg_b.f32() + c, f_b.f32() + 2 * c, sizeof(float) * static_cast<std::size_t>(gates));
  const Tensor h_w = copy("h.weight"), h_b = copy("h.bias");
  const Tensor proj_w = copy("proj.weight"), proj_b = copy("proj.bias");
  auto s = std::make_unique<State>(State{
      .desc = d,
      .threads = engine.threads(),
      .f_qg =
          LinearPlan::create(engine, {.m = t, .k = c, .n = c + gates}, qg_w.cview(), qg_b.cview()),
      .f_ctx = LinearPlan::create(engine, {.m = t, .k = c, .n = c}, f_w.cview().slice(0, c, 2 * c),
                                  f_b.cview().slice(0, c, 2 * c)),
      .h = LinearPlan::create(engine, {.m = t, .k = c, .n = c}, h_w.cview(), h_b.cview()),
      .proj = LinearPlan::create(engine, {.m = t, .k = c, .n = c}, proj_w.cview(), proj_b.cview()),
      .levels = {},
      .h_weight_t = Tensor::empty({c, c}),
      .qg = Tensor::empty({t, c + gates}),
      .ctx = Tensor::empty({d.n, d.h, d.w, c}),
      .conv = Tensor::empty({d.n, d.h, d.w, c}),
      .ctx_all = Tensor::empty({t, c}),
      .mod = Tensor::empty({t, c}),
      .partial = Tensor::empty({engine.threads(), c}),
      .hg = Tensor::empty({d.n, c}),
      .passes = &cpu::modulation_passes(),
  });
  for (std::int64_t o = 0; o < c; ++o) {
    for (std::int64_t i = 0; i < c; ++i) s->h_weight_t.f32()[i * c + o] = h_w.f32()[o * c + i];
  }
  for (std::int64_t l = 0; l < d.focal_level; ++l) {
    const std::int64_t k = focal_kernel(d, l);
    s->levels.push_back(
        Conv2dPlan::create(engine,
                           {.n = d.n,
                            .h = d.h,
                            .w = d.w,
                            .ic = c,
                            .oc = c,
                            .kh = k,
                            .kw = k,
                            .pad_h = k / 2,
                            .pad_w = k / 2,
                            .groups = c,
                            .bias = Bias::None},
                           weights.get(fmt::format("focal_layers.{}.0.weight", l), key)));
  }
  s->impl = fmt::format("{}+{}+hand:focal_passes_{}", s->f_ctx.impl_name(),
                        s->levels.front().impl_name(), s->passes->isa);
  return FocalModulationPlan(std::move(s));
}

void FocalModulationPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const FocalModulationDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == Shape({d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == Shape({d.n, d.h, d.w, d.c}));
  const std::int64_t c = d.c, tokens = d.h * d.w, rows = d.n * tokens, qs = c + d.focal_level + 1;
  const int threads = s.threads;
  const cpu::ModulationPasses& passes = *s.passes;
  s.f_qg.run(src, s.qg.view());
  s.f_ctx.run(src, s.ctx.view());
  const float* gates = s.qg.f32() + c;
  for (std::int64_t l = 0; l < d.focal_level; ++l) {
    s.levels[static_cast<std::size_t>(l)].run(s.ctx.cview(), s.conv.view());
    const bool last = l + 1 == d.focal_level;
    cpu::FocalLevelArgs args{.conv = s.conv.f32(),
                             .ctx = last ? nullptr : s.ctx.f32(),
                             .ctx_all = s.ctx_all.f32(),
                             .gate = gates + l,
                             .gate_stride = qs,
                             .c = c,
                             .first = l == 0};
    if (!last) {
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int part = 0; part < threads; ++part) {
        passes.focal_level(args, split(rows, part, threads), split(rows, part + 1, threads));
      }
      continue;
    }
    // The last level also sums its context per sample and channel for the global mean.
    for (std::int64_t n = 0; n < d.n; ++n) {
      float* partial = s.partial.f32();
      std::fill(partial, partial + threads * c, 0.f);
#pragma omp parallel for num_threads(threads) schedule(static)
      for (int part = 0; part < threads; ++part) {
        cpu::FocalLevelArgs mine = args;
        mine.sums = partial + part * c;
        passes.focal_level(mine, n * tokens + split(tokens, part, threads),
                           n * tokens + split(tokens, part + 1, threads));
      }
      // h is linear, so h(ctx_all + g * glob) = h(ctx_all) + g * (W_h glob): the global term
      // joins the final pass as a per-sample vector instead of another pass over ctx_all.
      float* glob = partial;  // thread 0's row now holds the mean's GELU
      for (std::int64_t i = 0; i < c; ++i) {
        float sum = 0;
        for (int part = 0; part < threads; ++part) sum += partial[part * c + i];
        glob[i] = passes.gelu(sum / static_cast<float>(tokens));
      }
      float* hg = s.hg.f32() + n * c;
      const float* wht = s.h_weight_t.f32();
      std::fill(hg, hg + c, 0.f);
      for (std::int64_t i = 0; i < c; ++i) {
        for (std::int64_t o = 0; o < c; ++o) hg[o] += wht[i * c + o] * glob[i];
      }
    }
  }
  s.h.run(s.ctx_all.cview(), s.mod.view());
  float* x_out = s.ctx_all.f32();  // ctx_all is dead once h has read it
  for (std::int64_t n = 0; n < d.n; ++n) {
    const float* hg = s.hg.f32() + n * c;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int part = 0; part < threads; ++part) {
      passes.focal_modulate(s.qg.f32(), gates + d.focal_level, qs, s.mod.f32(), hg, x_out, c,
                            n * tokens + split(tokens, part, threads),
                            n * tokens + split(tokens, part + 1, threads));
    }
  }
  s.proj.run(s.ctx_all.cview(), dst);
}

std::string_view FocalModulationPlan::impl_name() const { return state_->impl; }

MixerEntry focal_modulation_entry() {
  return make_mixer_entry<FocalModulationDesc, FocalModulationPlan>(
      std::string(kName),
      "FocalNet focal modulation: L gated levels of depthwise conv + GELU and a global context, "
      "1x1 modulator times q, linear proj",
      focal_modulation_params(), focal_modulation_desc_from, reference::focal_modulation,
      kTolerance);
}

}  // namespace hwnas
