#include "kernels/mixers/cswin_attention.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kernels/assert.hpp"
#include "kernels/cpu/attention_tile.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/cswin_attention_ref.hpp"

namespace hwnas {

namespace {

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 16;
// Queries per attention_tile call: bounds the score scratch to kQueryBlock x T floats per thread,
// so a whole-map window (branches = 1 at 56x56: T = 3136) needs 0.8 MB, not T*T*4 = 39 MB.
constexpr std::int64_t kQueryBlock = 64;
constexpr std::int64_t kLepeTaps = 9;

// Tolerance, |got - ref| <= kTolerance * max(magnitude, 1), magnitude = the proj dot product's
// sum |w*a| + |b|. The chain: q, k, v are dot products of length c (Higham: relative error
// <= gamma(c+1) of their magnitude, 5.7e-6 at c = 96 in the worst case, ~1e-7 in practice); a
// logit is scale * q.k of length d, perturbed by those errors and its own gamma(d); softmax turns
// an absolute logit error e into a relative probability error <= 2e, and p.v is a convex
// combination of v, so the attention output's absolute error is <= (2e + gamma(T)) * max|v| plus
// v's own error; LePE adds a 10-term dot product; proj adds gamma(c+1) * magnitude. Measured with
// the tests' random weights: at most 4.3e-7 of the magnitude (c = 16..384, T up to 784, one
// whole-map window of 28x28), so 1e-5 leaves a factor 20 for a faster attention core's exp,
// while a wrong window, head or LePE tap (an error of the order of |v| in a, >= 1e-2 of the
// magnitude; see the LepeIsWindowed test) fails by orders of magnitude.
constexpr double kTolerance = 1e-5;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

// One unit of parallel work: a window of one head of one branch.
struct Task {
  std::int64_t branch = 0, window = 0, head = 0;
};

}  // namespace

std::span<const ParamSpec> cswin_attention_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> specs = mixer_shape_params();
    specs.push_back({.name = "heads",
                     .default_value = "2",
                     .min = 1,
                     .max = kMaxExtent,
                     .help = "attention heads in all (each branch of two gets heads/2)"});
    specs.push_back({.name = "sw",
                     .default_value = "7",
                     .min = 1,
                     .max = kMaxExtent,
                     .help = "stripe width (split_size)"});
    specs.push_back({.name = "branches",
                     .default_value = "2",
                     .min = 1,
                     .max = 2,
                     .help = "2: vertical + horizontal stripes; 1: one whole-map window"});
    specs.push_back(
        {.name = "qkv_bias", .default_value = "1", .min = 0, .max = 1, .help = "qkv has a bias"});
    return specs;
  }();
  return kSpecs;
}

std::string to_string(const CswinAttentionDesc& d) {
  const auto s = [](std::int64_t v) { return std::to_string(v); };
  return make_key("cswin_attention", {{"n", s(d.n)},
                                      {"h", s(d.h)},
                                      {"w", s(d.w)},
                                      {"c", s(d.c)},
                                      {"heads", s(d.heads)},
                                      {"sw", s(d.sw)},
                                      {"branches", s(d.branches)},
                                      {"qkv_bias", d.qkv_bias == Bias::Add ? "1" : "0"}});
}

CswinAttentionDesc cswin_attention_desc_from(const Params& p) {
  const MixerShape shape = mixer_shape_from(p);
  CswinAttentionDesc d{.n = shape.n,
                       .h = shape.h,
                       .w = shape.w,
                       .c = shape.c,
                       .heads = p.integer("heads"),
                       .sw = p.integer("sw"),
                       .branches = p.integer("branches"),
                       .qkv_bias = p.integer("qkv_bias") != 0 ? Bias::Add : Bias::None};
  check(d);
  return d;
}

void check(const CswinAttentionDesc& d) {
  const std::string key = to_string(d);
  const auto at_least = [&](std::string_view name, std::int64_t v, std::int64_t lo) {
    if (v < lo) {
      throw InvalidArgument(
          fmt::format("cswin_attention: {}={} must be >= {} [{}]", name, v, lo, key));
    }
  };
  at_least("n", d.n, 1);
  at_least("h", d.h, 1);
  at_least("w", d.w, 1);
  at_least("c", d.c, 1);
  at_least("heads", d.heads, 1);
  at_least("sw", d.sw, 1);
  if (d.branches != 1 && d.branches != 2) {
    throw InvalidArgument(
        fmt::format("cswin_attention: branches={} must be 1 or 2 [{}]", d.branches, key));
  }
  if (d.branches == 2 && d.heads % 2 != 0) {
    throw InvalidArgument(fmt::format(
        "cswin_attention: heads={} must be even with branches=2 (each stripe direction gets "
        "heads/2) [{}]",
        d.heads, key));
  }
  check_heads_divide_channels("cswin_attention", d.heads, d.c, key);
}

CswinBranchGeometry cswin_branch_geometry(const CswinAttentionDesc& d, std::int64_t branch) {
  if (d.branches == 1) return {.win_h = d.h, .win_w = d.w, .count = 1};
  if (branch == 0) {
    return {.win_h = d.h, .win_w = d.sw, .count = ceil_div(d.w, d.sw), .step_w = d.sw};
  }
  return {.win_h = d.sw, .win_w = d.w, .count = ceil_div(d.h, d.sw), .step_h = d.sw};
}

OpCost cost(const CswinAttentionDesc& d) {
  const auto f = [](std::int64_t v) { return static_cast<double>(v); };
  const double tokens = f(d.n) * f(d.h) * f(d.w);
  const std::int64_t head_dim = d.c / d.heads;
  const std::int64_t branch_c = d.c / d.branches;
  double attention = 0, lepe = 0;
  for (std::int64_t b = 0; b < d.branches; ++b) {
    const CswinBranchGeometry g = cswin_branch_geometry(d, b);
    const double t = f(g.tokens());
    attention += f(d.n) * f(g.count) * f(d.heads / d.branches) * 4.0 * t * t * f(head_dim);
    lepe += f(d.n) * f(g.count) * t * f(branch_c) * 2.0 * kLepeTaps;
  }
  const std::int64_t qkv_params = 3 * d.c * d.c + (d.qkv_bias == Bias::Add ? 3 * d.c : 0);
  const std::int64_t params = qkv_params + d.c * d.c + d.c + d.c * (kLepeTaps + 1);
  return {.flops = 2.0 * tokens * f(d.c) * 4.0 * f(d.c) + attention + lepe,
          .bytes = 4.0 * (2.0 * tokens * f(d.c) + f(params)),
          .params = params};
}

std::vector<WeightSpec> weight_specs(const CswinAttentionDesc& d) {
  const std::int64_t c = d.c;
  std::vector<WeightSpec> specs = {
      with_segments({"qkv.weight", {3 * c, c}, WeightKind::Matrix}, 0, {c, c, c})};
  if (d.qkv_bias == Bias::Add) {
    specs.push_back(with_segments({"qkv.bias", {3 * c}, WeightKind::Bias}, 0, {c, c, c}));
  }
  specs.push_back({"proj.weight", {d.c, d.c}, WeightKind::Matrix});
  specs.push_back({"proj.bias", {d.c}, WeightKind::Bias});
  const std::int64_t branch_c = d.c / d.branches;
  for (std::int64_t b = 0; b < d.branches; ++b) {
    const std::string prefix = fmt::format("attns.{}.get_v.", b);
    specs.push_back({prefix + "weight", {branch_c, 1, 3, 3}, WeightKind::Matrix});
    specs.push_back({prefix + "bias", {branch_c}, WeightKind::Bias});
  }
  return specs;
}

struct CswinAttentionPlan::State {
  CswinAttentionDesc desc;
  Engine engine;
  LinearPlan qkv;
  LinearPlan proj;
  std::string impl;
  std::vector<Task> tasks;
  std::vector<CswinBranchGeometry> geometry;
  std::int64_t head_dim = 0, branch_c = 0;
  std::vector<float> pad_row;  // q | k | v of a padded token: qkv.bias, or zeros
  // LePE per branch, tap-major: lepe_w[b][tap * branch_c + ch], so one tap's head_dim weights are
  // contiguous like the gathered v rows they multiply.
  std::vector<std::vector<float>> lepe_w, lepe_b;
  Tensor qkv_buf;   // [n*h*w, 3c]
  Tensor attn_buf;  // [n*h*w, c]
  // Per thread: q, k, v, o [T_max, head_dim] each, then (at tile_offset) the attention_tile
  // scratch.
  Tensor scratch;
  std::int64_t scratch_stride = 0, tile_offset = 0, max_tokens = 0;
};

CswinAttentionPlan::CswinAttentionPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
CswinAttentionPlan::CswinAttentionPlan(CswinAttentionPlan&&) noexcept = default;
CswinAttentionPlan& CswinAttentionPlan::operator=(CswinAttentionPlan&&) noexcept = default;
CswinAttentionPlan::~CswinAttentionPlan() = default;

namespace {

std::vector<float> copy_flat(const ConstTensorView& view) {
  const Tensor t = Tensor::copy_of(view);
  return std::vector<float>(t.f32(), t.f32() + t.numel());
}

}  // namespace

CswinAttentionPlan CswinAttentionPlan::create(const Engine& engine, const CswinAttentionDesc& d,
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
  s->impl = fmt::format("omp:cswin+tile:{}+{}", cpu::attention_tile_impl(), s->qkv.impl_name());
  s->head_dim = d.c / d.heads;
  s->branch_c = d.c / d.branches;
  s->pad_row = d.qkv_bias == Bias::Add ? copy_flat(weights.get("qkv.bias", key))
                                       : std::vector<float>(static_cast<std::size_t>(3 * d.c));
  for (std::int64_t b = 0; b < d.branches; ++b) {
    const CswinBranchGeometry g = cswin_branch_geometry(d, b);
    s->geometry.push_back(g);
    s->max_tokens = std::max(s->max_tokens, g.tokens());
    for (std::int64_t win = 0; win < g.count; ++win) {
      for (std::int64_t head = 0; head < d.heads / d.branches; ++head) {
        s->tasks.push_back({.branch = b, .window = win, .head = head});
      }
    }
    const std::string prefix = fmt::format("attns.{}.get_v.", b);
    const Tensor w = Tensor::copy_of(weights.get(prefix + "weight", key));  // [branch_c, 1, 3, 3]
    std::vector<float> taps(static_cast<std::size_t>(kLepeTaps * s->branch_c));
    for (std::int64_t ch = 0; ch < s->branch_c; ++ch) {
      for (std::int64_t tap = 0; tap < kLepeTaps; ++tap) {
        taps[static_cast<std::size_t>(tap * s->branch_c + ch)] = w.f32()[ch * kLepeTaps + tap];
      }
    }
    s->lepe_w.push_back(std::move(taps));
    s->lepe_b.push_back(copy_flat(weights.get(prefix + "bias", key)));
  }
  s->qkv_buf = Tensor::empty({tokens, 3 * d.c});
  s->attn_buf = Tensor::empty({tokens, d.c});
  const std::int64_t tile_floats = cpu::attention_tile_scratch_floats(
      std::min(kQueryBlock, s->max_tokens), s->max_tokens, s->head_dim, s->head_dim);
  // Both parts rounded to 16 floats: every thread's block and the tile scratch inside it stay
  // 64-byte aligned, as attention_tile asks.
  const auto round16 = [](std::int64_t floats) { return (floats + 15) / 16 * 16; };
  s->tile_offset = round16(4 * s->max_tokens * s->head_dim);
  s->scratch_stride = s->tile_offset + round16(tile_floats);
  s->scratch = Tensor::empty({engine.threads() * s->scratch_stride});
  return CswinAttentionPlan(std::move(s));
}

namespace {

// The gathered window of one head: rows t = y * win_w + x of q, k, v (head_dim floats each).
struct Window {
  const float* v = nullptr;
  const float* o = nullptr;
  std::int64_t win_h = 0, win_w = 0, head_dim = 0;
};

// out[d] = o[t, d] + bias[d] + sum over the 3x3 taps inside the window of w[tap, d] * v[t', d].
// The body is inlined into an AVX-512 and a baseline function so the compiler vectorises it over d
// for each ISA (GCC inlines a callee whose ISA is a subset of the caller's).
[[gnu::always_inline]] inline void lepe_row_body(const Window& win, std::int64_t y, std::int64_t x,
                                                 const float* w, std::int64_t w_stride,
                                                 const float* bias, float* out) noexcept {
  const std::int64_t hd = win.head_dim;
  const float* o = win.o + (y * win.win_w + x) * hd;
  for (std::int64_t k = 0; k < hd; ++k) out[k] = o[k] + bias[k];
  for (std::int64_t dy = -1; dy <= 1; ++dy) {
    const std::int64_t yy = y + dy;
    if (yy < 0 || yy >= win.win_h) continue;
    for (std::int64_t dx = -1; dx <= 1; ++dx) {
      const std::int64_t xx = x + dx;
      if (xx < 0 || xx >= win.win_w) continue;
      const float* wt = w + ((dy + 1) * 3 + (dx + 1)) * w_stride;
      const float* v = win.v + (yy * win.win_w + xx) * hd;
      for (std::int64_t k = 0; k < hd; ++k) out[k] += wt[k] * v[k];
    }
  }
}

[[gnu::target("avx512f,avx512bw,avx512dq,avx512vl")]] void lepe_row_avx512(
    const Window& win, std::int64_t y, std::int64_t x, const float* w, std::int64_t w_stride,
    const float* bias, float* out) noexcept {
  lepe_row_body(win, y, x, w, w_stride, bias, out);
}

void lepe_row_generic(const Window& win, std::int64_t y, std::int64_t x, const float* w,
                      std::int64_t w_stride, const float* bias, float* out) noexcept {
  lepe_row_body(win, y, x, w, w_stride, bias, out);
}

using LepeRow = void (*)(const Window&, std::int64_t, std::int64_t, const float*, std::int64_t,
                         const float*, float*) noexcept;

}  // namespace

void CswinAttentionPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const CswinAttentionDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == Shape({d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == Shape({d.n, d.h, d.w, d.c}));
  const std::int64_t tokens = d.n * d.h * d.w;
  float* qkv = s.qkv_buf.f32();
  float* attn = s.attn_buf.f32();
  float* scratch_all = s.scratch.f32();
  s.qkv.run(src.reshape({tokens, d.c}), TensorView(qkv, {tokens, 3 * d.c}));

  const LepeRow lepe_row = __builtin_cpu_supports("avx512f") ? &lepe_row_avx512 : &lepe_row_generic;
  const std::int64_t hd = s.head_dim, c = d.c, c3 = 3 * d.c;
  const std::int64_t per_batch = static_cast<std::int64_t>(s.tasks.size());
  const std::int64_t items = d.n * per_batch;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(hd)));
#pragma omp parallel num_threads(s.engine.threads())
  {
    float* scratch = scratch_all + omp_get_thread_num() * s.scratch_stride;
    float* qb = scratch;
    float* kb = qb + s.max_tokens * hd;
    float* vb = kb + s.max_tokens * hd;
    float* ob = vb + s.max_tokens * hd;
    float* tile_scratch = scratch + s.tile_offset;
#pragma omp for schedule(dynamic, 1)
    for (std::int64_t item = 0; item < items; ++item) {
      const std::int64_t batch = item / per_batch;
      const Task& task = s.tasks[static_cast<std::size_t>(item % per_batch)];
      const CswinBranchGeometry& g = s.geometry[static_cast<std::size_t>(task.branch)];
      const std::int64_t y0 = task.window * g.step_h, x0 = task.window * g.step_w;
      const std::int64_t ch0 = task.branch * s.branch_c + task.head * hd;  // within q, k or v
      const std::int64_t t_count = g.tokens();
      for (std::int64_t t = 0; t < t_count; ++t) {
        const std::int64_t y = y0 + t / g.win_w, x = x0 + t % g.win_w;
        const float* row =
            y < d.h && x < d.w ? qkv + ((batch * d.h + y) * d.w + x) * c3 : s.pad_row.data();
        std::copy_n(row + ch0, hd, qb + t * hd);
        std::copy_n(row + c + ch0, hd, kb + t * hd);
        std::copy_n(row + 2 * c + ch0, hd, vb + t * hd);
      }
      // Queries only for the rows that survive the crop: a horizontal stripe's padded rows are
      // its last ones (they stay keys); a vertical stripe's padded columns interleave, so there
      // every query is computed and the padded ones dropped at the scatter.
      const std::int64_t y_end = std::min(g.win_h, d.h - y0), x_end = std::min(g.win_w, d.w - x0);
      const std::int64_t q_count = y_end * g.win_w;
      for (std::int64_t m0 = 0; m0 < q_count; m0 += kQueryBlock) {
        cpu::attention_tile({.q = qb + m0 * hd,
                             .q_stride = hd,
                             .k = kb,
                             .k_stride = hd,
                             .v = vb,
                             .v_stride = hd,
                             .o = ob + m0 * hd,
                             .o_stride = hd,
                             .m = std::min(kQueryBlock, q_count - m0),
                             .n = t_count,
                             .dk = hd,
                             .dv = hd,
                             .scale = scale},
                            tile_scratch);
      }
      const Window win{.v = vb, .o = ob, .win_h = g.win_h, .win_w = g.win_w, .head_dim = hd};
      const std::int64_t lepe_ch = task.head * hd;  // within the branch
      const float* w = s.lepe_w[static_cast<std::size_t>(task.branch)].data() + lepe_ch;
      const float* bias = s.lepe_b[static_cast<std::size_t>(task.branch)].data() + lepe_ch;
      for (std::int64_t y = 0; y < y_end; ++y) {
        for (std::int64_t x = 0; x < x_end; ++x) {
          float* out = attn + ((batch * d.h + y0 + y) * d.w + x0 + x) * c + ch0;
          lepe_row(win, y, x, w, s.branch_c, bias, out);
        }
      }
    }
  }
  s.proj.run(ConstTensorView(attn, {tokens, c}), dst.reshape({tokens, c}));
}

std::string_view CswinAttentionPlan::impl_name() const { return state_->impl; }

MixerEntry cswin_attention_entry() {
  return make_mixer_entry<CswinAttentionDesc, CswinAttentionPlan>(
      "cswin_attention",
      "CSWin cross-shaped stripe attention (vertical + horizontal stripes of width sw) with LePE",
      cswin_attention_params(), cswin_attention_desc_from,
      [](const CswinAttentionDesc& d, const ConstTensorView& src, const MixerWeights& w) {
        return reference::cswin_attention(d, src, w);
      },
      kTolerance);
}

}  // namespace hwnas
