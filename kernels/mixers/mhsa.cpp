#include "kernels/mixers/mhsa.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/attention_tile.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/ops/layer_norm.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/mhsa_ref.hpp"

namespace hwnas {
namespace {

// Test tolerance, relative to max(magnitude of the output projection, 1). Worst-case bounds (u =
// 2^-24, gamma(k) = k u / (1 - k u)) at the largest suite shapes, c <= 768, d <= 64, keys <= 3136:
// q, k, v come from a linear over c (gamma(c + 1) <= 4.6e-5 of their magnitudes; the PVTv2 path
// adds the conv over c r^2 and a LayerNorm first), a logit error e becomes a relative 2e on each
// probability, attention_tile adds 2 gamma(keys + 1) <= 3.8e-4 (the bound its test checks), the
// output projection gamma(c + 1) again: about 1e-3 in all, too loose to catch a subtle bug. Those
// bounds need every rounding to share a sign; with random signs the error of a k-term sum grows
// like sqrt(k) u (Higham, Accuracy and Stability, 2nd ed., §3.5): sqrt(3136) u = 3.3e-6 for the
// longest reduction, a few of those chained stay below 1e-5. 3e-5 leaves that margin; the tests
// see at most 2.5e-7 (mhsa_test logs the worst error per shape), and an indexing, layout or scale
// error (relative error ~1) fails by orders of magnitude.
constexpr double kTolerance = 3e-5;

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 20;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }

}  // namespace

std::span<const ParamSpec> mhsa_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> specs = mixer_shape_params();
    specs.push_back({.name = "heads",
                     .default_value = "3",
                     .min = 1,
                     .max = 4096,
                     .help = "attention heads (must divide c)"});
    specs.push_back({.name = "qkv_bias",
                     .default_value = "1",
                     .min = 0,
                     .max = 1,
                     .help = "1: the q/k/v projections have a bias"});
    specs.push_back({.name = "sr_ratio",
                     .default_value = "1",
                     .min = 1,
                     .max = 64,
                     .help = "PVTv2 spatial reduction of K/V (r x r stride-r conv); 1 = none"});
    specs.push_back({.name = "rel_pos",
                     .default_value = "0",
                     .min = 0,
                     .max = 1,
                     .help = "1: relative position bias over the whole map (sr_ratio=1 only)"});
    return specs;
  }();
  return kSpecs;
}

std::string to_string(const MhsaDesc& d) {
  return make_key("mhsa", {{"n", std::to_string(d.n)},
                           {"h", std::to_string(d.h)},
                           {"w", std::to_string(d.w)},
                           {"c", std::to_string(d.c)},
                           {"heads", std::to_string(d.heads)},
                           {"qkv_bias", std::to_string(d.qkv_bias)},
                           {"sr_ratio", std::to_string(d.sr_ratio)},
                           {"rel_pos", std::to_string(d.rel_pos)}});
}

MhsaDesc mhsa_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const MhsaDesc d{.n = s.n,
                   .h = s.h,
                   .w = s.w,
                   .c = s.c,
                   .heads = p.integer("heads"),
                   .qkv_bias = p.integer("qkv_bias"),
                   .sr_ratio = p.integer("sr_ratio"),
                   .rel_pos = p.integer("rel_pos")};
  check(d);
  return d;
}

void check(const MhsaDesc& d) {
  const std::string key = to_string(d);
  const auto positive = [&](std::string_view name, std::int64_t v) {
    if (v < 1 || v > kMaxExtent) {
      throw InvalidArgument(
          fmt::format("mhsa: {}={} must be in [1, {}] [{}]", name, v, kMaxExtent, key));
    }
  };
  positive("n", d.n);
  positive("h", d.h);
  positive("w", d.w);
  positive("c", d.c);
  positive("heads", d.heads);
  positive("sr_ratio", d.sr_ratio);
  check_heads_divide_channels("mhsa", d.heads, d.c, key);
  if (d.qkv_bias != 0 && d.qkv_bias != 1) {
    throw InvalidArgument(fmt::format("mhsa: qkv_bias={} must be 0 or 1 [{}]", d.qkv_bias, key));
  }
  if (d.rel_pos != 0 && d.rel_pos != 1) {
    throw InvalidArgument(fmt::format("mhsa: rel_pos={} must be 0 or 1 [{}]", d.rel_pos, key));
  }
  if (d.sr_ratio > 1 && (d.h < d.sr_ratio || d.w < d.sr_ratio)) {
    throw InvalidArgument(fmt::format(
        "mhsa: sr_ratio={} must not exceed the map h={} x w={} (the reduction conv would leave no "
        "keys) [{}]",
        d.sr_ratio, d.h, d.w, key));
  }
  if (d.rel_pos == 1 && d.sr_ratio > 1) {
    throw InvalidArgument(fmt::format(
        "mhsa: rel_pos=1 needs sr_ratio=1 (got sr_ratio={}): the bias table indexes query and key "
        "positions of the same map [{}]",
        d.sr_ratio, key));
  }
}

std::int64_t mhsa_keys(const MhsaDesc& d) {
  return d.sr_ratio == 1 ? d.h * d.w : (d.h / d.sr_ratio) * (d.w / d.sr_ratio);
}

std::vector<WeightSpec> weight_specs(const MhsaDesc& d) {
  const std::int64_t c = d.c, r = d.sr_ratio;
  std::vector<WeightSpec> specs;
  if (r == 1) {
    specs.push_back(with_segments({"qkv.weight", {3 * c, c}, WeightKind::Matrix}, 0, {c, c, c}));
    if (d.qkv_bias == 1) {
      specs.push_back(with_segments({"qkv.bias", {3 * c}, WeightKind::Bias}, 0, {c, c, c}));
    }
  } else {
    specs.push_back({"q.weight", {c, c}, WeightKind::Matrix});
    if (d.qkv_bias == 1) specs.push_back({"q.bias", {c}, WeightKind::Bias});
    specs.push_back(with_segments({"kv.weight", {2 * c, c}, WeightKind::Matrix}, 0, {c, c}));
    if (d.qkv_bias == 1) {
      specs.push_back(with_segments({"kv.bias", {2 * c}, WeightKind::Bias}, 0, {c, c}));
    }
    specs.push_back({"sr.weight", {c, c, r, r}, WeightKind::Matrix});
    specs.push_back({"sr.bias", {c}, WeightKind::Bias});
    specs.push_back({"norm.weight", {c}, WeightKind::NormScale});
    specs.push_back({"norm.bias", {c}, WeightKind::NormShift});
  }
  specs.push_back({"proj.weight", {c, c}, WeightKind::Matrix});
  specs.push_back({"proj.bias", {c}, WeightKind::Bias});
  if (d.rel_pos == 1) {
    const std::int64_t rows = 2 * d.h - 1, cols = 2 * d.w - 1;  // as window_attention's table
    specs.push_back(
        with_grid({"relative_position_bias_table", {rows * cols, d.heads}, WeightKind::Table}, 0,
                  SliceRule::CentreGrid, rows, cols));
  }
  return specs;
}

OpCost cost(const MhsaDesc& d) {
  const auto f = [](std::int64_t v) { return static_cast<double>(v); };
  const double tokens = f(d.n * d.h * d.w), c = f(d.c), r = f(d.sr_ratio);
  const double keys = f(d.n * mhsa_keys(d));  // over the batch
  double flops = 2 * tokens * c * c;          // proj
  if (d.sr_ratio == 1) {
    flops += 2 * tokens * c * 3 * c;  // qkv
  } else {
    flops += 2 * tokens * c * c;        // q
    flops += 2 * keys * c * c * r * r;  // sr conv
    flops += 2 * keys * c * 2 * c;      // kv
  }
  flops += 2 * 2 * tokens * f(mhsa_keys(d)) * c;  // q k^T and p v, all heads
  std::int64_t params = 0;
  for (const WeightSpec& s : weight_specs(d)) params += s.shape.numel();
  return {.flops = flops, .bytes = 4.0 * (2 * tokens * c + f(params)), .params = params};
}

struct MhsaPlan::State {
  MhsaDesc desc;
  Engine engine;
  std::int64_t tokens = 0, keys = 0, head_dim = 0;
  float scale = 1.f;
  // sr_ratio = 1: qkv. sr_ratio > 1: q, then sr -> norm -> kv.
  std::unique_ptr<LinearPlan> qkv, q, kv, proj;
  std::unique_ptr<Conv2dPlan> sr;
  std::unique_ptr<LayerNormPlan> norm;
  // Projection outputs; q, k, v of head h are read in place at column offsets (strides below).
  Tensor qkv_out, q_out, reduced, kv_out, attn_out;
  const float* q_base = nullptr;
  const float* k_base = nullptr;
  const float* v_base = nullptr;
  std::int64_t q_stride = 0, kv_stride = 0;
  Tensor table;  // [heads, (2h-1)*(2w-1)]: the bias table transposed, one contiguous row per head
  std::int64_t query_block = 1, blocks_per_head = 1;
  std::int64_t tile_floats = 0, scratch_floats = 0;  // per thread
  Tensor scratch;                                    // [threads, scratch_floats]
  std::string impl;
};

MhsaPlan::MhsaPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
MhsaPlan::MhsaPlan(MhsaPlan&&) noexcept = default;
MhsaPlan& MhsaPlan::operator=(MhsaPlan&&) noexcept = default;
MhsaPlan::~MhsaPlan() = default;

MhsaPlan MhsaPlan::create(const Engine& engine, const MhsaDesc& d, const MixerWeights& weights) {
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  check(d);
  // LinearPlan reads weights as dense [out, in]; the views may have any strides.
  const auto dense = [&](std::string_view name) { return Tensor::copy_of(weights.get(name, key)); };
  const auto optional = [&](std::string_view name) {
    return weights.has(name) ? Tensor::copy_of(weights.get(name, key)) : Tensor();
  };
  const Bias qkv_bias = d.qkv_bias == 1 ? Bias::Add : Bias::None;
  auto s = std::make_unique<State>(State{.desc = d, .engine = engine});
  s->tokens = d.h * d.w;
  s->keys = mhsa_keys(d);
  s->head_dim = d.c / d.heads;
  s->scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(s->head_dim)));
  const std::int64_t rows = d.n * s->tokens, key_rows = d.n * s->keys;
  if (d.sr_ratio == 1) {
    const Tensor w = dense("qkv.weight"), b = optional("qkv.bias");
    s->qkv = std::make_unique<LinearPlan>(LinearPlan::create(
        engine, {.m = rows, .k = d.c, .n = 3 * d.c, .bias = qkv_bias}, w.cview(), b.cview()));
    s->qkv_out = Tensor::empty({rows, 3 * d.c});
    s->q_base = s->qkv_out.f32();
    s->k_base = s->q_base + d.c;
    s->v_base = s->q_base + 2 * d.c;
    s->q_stride = s->kv_stride = 3 * d.c;
  } else {
    const std::int64_t r = d.sr_ratio;
    const Tensor qw = dense("q.weight"), qb = optional("q.bias");
    const Tensor kvw = dense("kv.weight"), kvb = optional("kv.bias");
    const Tensor srw = dense("sr.weight"), srb = dense("sr.bias");
    const Tensor nw = dense("norm.weight"), nb = dense("norm.bias");
    s->q = std::make_unique<LinearPlan>(LinearPlan::create(
        engine, {.m = rows, .k = d.c, .n = d.c, .bias = qkv_bias}, qw.cview(), qb.cview()));
    s->sr = std::make_unique<Conv2dPlan>(Conv2dPlan::create(engine,
                                                            {.n = d.n,
                                                             .h = d.h,
                                                             .w = d.w,
                                                             .ic = d.c,
                                                             .oc = d.c,
                                                             .kh = r,
                                                             .kw = r,
                                                             .stride_h = r,
                                                             .stride_w = r},
                                                            srw.cview(), srb.cview()));
    s->norm = std::make_unique<LayerNormPlan>(LayerNormPlan::create(
        engine, {.rows = key_rows, .c = d.c, .eps = 1e-5f}, nw.cview(), nb.cview()));
    s->kv = std::make_unique<LinearPlan>(
        LinearPlan::create(engine, {.m = key_rows, .k = d.c, .n = 2 * d.c, .bias = qkv_bias},
                           kvw.cview(), kvb.cview()));
    s->q_out = Tensor::empty({rows, d.c});
    s->reduced = Tensor::empty({d.n, d.h / r, d.w / r, d.c});
    s->kv_out = Tensor::empty({key_rows, 2 * d.c});
    s->q_base = s->q_out.f32();
    s->k_base = s->kv_out.f32();
    s->v_base = s->k_base + d.c;
    s->q_stride = d.c;
    s->kv_stride = 2 * d.c;
  }
  {
    const Tensor w = dense("proj.weight"), b = dense("proj.bias");
    s->proj = std::make_unique<LinearPlan>(LinearPlan::create(
        engine, {.m = rows, .k = d.c, .n = d.c, .bias = Bias::Add}, w.cview(), b.cview()));
  }
  s->attn_out = Tensor::empty({rows, d.c});
  if (d.rel_pos == 1) {
    const ConstTensorView t = weights.get("relative_position_bias_table", key);
    const std::int64_t entries = t.shape()[0];
    s->table = Tensor::empty({d.heads, entries});
    for (std::int64_t e = 0; e < entries; ++e) {
      for (std::int64_t h = 0; h < d.heads; ++h) {
        s->table.f32()[h * entries + e] = t.f32()[e * t.strides()[0] + h * t.strides()[1]];
      }
    }
  }
  // Query blocks: K is transposed (and its rows read) once per tile, so tiles should be long; but
  // each thread wants several tiles for balance. A relative-position bias block is [block, keys]
  // floats of scratch, so it caps the block at 64 rows.
  const int threads = engine.threads();
  const std::int64_t max_block = d.rel_pos == 1 ? 64 : 256;
  std::int64_t blocks = ceil_div(s->tokens, max_block);
  while (d.n * d.heads * blocks < 4 * threads && ceil_div(s->tokens, 2 * blocks) >= 32) blocks *= 2;
  s->query_block = ceil_div(s->tokens, blocks);
  s->blocks_per_head = ceil_div(s->tokens, s->query_block);
  s->tile_floats =
      cpu::attention_tile_scratch_floats(s->query_block, s->keys, s->head_dim, s->head_dim);
  const std::int64_t bias_floats = d.rel_pos == 1 ? s->query_block * s->keys : 0;
  s->scratch_floats = ceil_div(s->tile_floats + bias_floats, 16) * 16;  // 64-byte aligned rows
  s->scratch = Tensor::empty({threads, s->scratch_floats});
  s->impl = fmt::format("attention_tile:{}+{}", cpu::attention_tile_impl(), s->proj->impl_name());
  return MhsaPlan(std::move(s));
}

void MhsaPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const MhsaDesc& d = s.desc;
  if (d.sr_ratio == 1) {
    s.qkv->run(src, s.qkv_out.view());
  } else {
    s.q->run(src, s.q_out.view());
    s.sr->run(src, s.reduced.view());
    s.norm->run(s.reduced.cview(), s.reduced.view());
    s.kv->run(s.reduced.cview(), s.kv_out.view());
  }
  const std::int64_t tasks = d.n * d.heads * s.blocks_per_head;
  const std::int64_t hd = s.head_dim, tokens = s.tokens, keys = s.keys, block = s.query_block;
  const std::int64_t table_entries = (2 * d.h - 1) * (2 * d.w - 1);
  float* attn = s.attn_out.f32();
  float* scratch_base = s.scratch.f32();
  const float* table = d.rel_pos == 1 ? s.table.f32() : nullptr;
#pragma omp parallel for num_threads(s.engine.threads()) schedule(static)
  for (std::int64_t task = 0; task < tasks; ++task) {
    const std::int64_t b = task / (d.heads * s.blocks_per_head);
    const std::int64_t head = task / s.blocks_per_head % d.heads;
    const std::int64_t i0 = task % s.blocks_per_head * block;
    const std::int64_t m = std::min(block, tokens - i0);
    float* scratch = scratch_base + omp_get_thread_num() * s.scratch_floats;
    float* bias = nullptr;
    if (table != nullptr) {
      // Row i of the block: B[i, (yj, xj)] = table[head, (yi - yj + h - 1)(2w - 1) + xi - xj + w -
      // 1].
      bias = scratch + s.tile_floats;
      const float* tab = table + head * table_entries;
      for (std::int64_t i = 0; i < m; ++i) {
        const std::int64_t yi = (i0 + i) / d.w, xi = (i0 + i) % d.w;
        for (std::int64_t yj = 0; yj < d.h; ++yj) {
          const float* row = tab + (yi - yj + d.h - 1) * (2 * d.w - 1) + xi + d.w - 1;
          float* out = bias + i * keys + yj * d.w;
          for (std::int64_t xj = 0; xj < d.w; ++xj) out[xj] = row[-xj];
        }
      }
    }
    const cpu::AttentionTile tile{.q = s.q_base + (b * tokens + i0) * s.q_stride + head * hd,
                                  .q_stride = s.q_stride,
                                  .k = s.k_base + b * keys * s.kv_stride + head * hd,
                                  .k_stride = s.kv_stride,
                                  .v = s.v_base + b * keys * s.kv_stride + head * hd,
                                  .v_stride = s.kv_stride,
                                  .o = attn + (b * tokens + i0) * d.c + head * hd,
                                  .o_stride = d.c,
                                  .bias = bias,
                                  .bias_stride = keys,
                                  .m = m,
                                  .n = keys,
                                  .dk = hd,
                                  .dv = hd,
                                  .scale = s.scale};
    cpu::attention_tile(tile, scratch);
  }
  s.proj->run(s.attn_out.cview(), dst);
}

std::string_view MhsaPlan::impl_name() const { return state_->impl; }

MixerEntry mhsa_entry() {
  return make_mixer_entry<MhsaDesc, MhsaPlan>(
      "mhsa",
      "global multi-head self-attention (ViT), optional PVTv2 spatial reduction of K/V or relative "
      "position bias",
      mhsa_params(), mhsa_desc_from,
      [](const MhsaDesc& d, const ConstTensorView& src, const MixerWeights& w) {
        return reference::mhsa(d, src, w);
      },
      kTolerance);
}

}  // namespace hwnas
