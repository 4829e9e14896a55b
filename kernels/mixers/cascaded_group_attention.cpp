#include "kernels/mixers/cascaded_group_attention.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>

#include "kernels/assert.hpp"
#include "kernels/cpu/attention_tile.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/cascaded_group_attention_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "cascaded_group_attention";

// Queries per attention tile, so a window far larger than EfficientViT's 7x7 still keeps one tile's
// scores in cache.
constexpr std::int64_t kQueryBlock = 64;

// Test tolerance, relative to max(magnitude of the proj dot product, 1). Each head: qkv sums
// d <= 96 products (gamma(97) ~ 6e-6 of its magnitude), the depthwise conv kernel^2 <= 49 more,
// the logits k_dim <= 16 (error ~1e-6 absolute for logits of a few units), softmax and P.V over
// N <= 49..196 keys (~1e-6 of max|v|). The cascade feeds each head's output (and its error) into
// the next head's input, so errors compound over the heads, by a factor ~ |qkv weights| * sqrt(d)
// ~ 1 each; for 4..8 heads ~1e-5 at the end. proj multiplies by sum|w| ~ 0.5 sqrt(c) ~ 5 and adds
// gamma(c+1) of its magnitude. 5e-5 leaves headroom (observed: < 3e-6); a missing cascade, a wrong
// bias index or a dwconv reading across windows moves outputs by >= 1e-2.
constexpr double kTolerance = 5e-5;

}  // namespace

CgaWindows cga_windows(const CascadedGroupAttentionDesc& d) {
  CgaWindows g;
  g.wh = std::min(d.window, d.h);
  g.ww = std::min(d.window, d.w);
  g.nh = (d.h + g.wh - 1) / g.wh;
  g.nw = (d.w + g.ww - 1) / g.ww;
  return g;
}

std::span<const ParamSpec> cascaded_group_attention_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "heads",
                 .default_value = "4",
                 .min = 1,
                 .max = 1 << 12,
                 .help = "heads; each takes c/heads channels (divides c)"});
    s.push_back({.name = "key_dim",
                 .default_value = "16",
                 .min = 1,
                 .max = 1 << 12,
                 .help = "query/key width per head"});
    s.push_back({.name = "window",
                 .default_value = "7",
                 .min = 1,
                 .max = 1 << 12,
                 .help = "window side (clamped to h and w)"});
    s.push_back({.name = "kernel",
                 .default_value = "5",
                 .min = 1,
                 .max = 63,
                 .help = "depthwise kernel on q (odd)"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const CascadedGroupAttentionDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)},
                          {"heads", std::to_string(d.heads)},
                          {"key_dim", std::to_string(d.key_dim)},
                          {"window", std::to_string(d.window)},
                          {"kernel", std::to_string(d.kernel)}});
}

CascadedGroupAttentionDesc cascaded_group_attention_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const CascadedGroupAttentionDesc d{.n = s.n,
                                     .h = s.h,
                                     .w = s.w,
                                     .c = s.c,
                                     .heads = p.integer("heads"),
                                     .key_dim = p.integer("key_dim"),
                                     .window = p.integer("window"),
                                     .kernel = p.integer("kernel")};
  check(d);
  return d;
}

void check(const CascadedGroupAttentionDesc& d) {
  const auto positive = [&](std::string_view name, std::int64_t v) {
    check_positive(kName, name, v, to_string(d));
  };
  positive("n", d.n);
  positive("h", d.h);
  positive("w", d.w);
  positive("c", d.c);
  positive("heads", d.heads);
  positive("key_dim", d.key_dim);
  positive("window", d.window);
  positive("kernel", d.kernel);
  check_heads_divide_channels(kName, d.heads, d.c, to_string(d));
  if (d.kernel % 2 == 0) {
    throw InvalidArgument(
        fmt::format("{}: kernel={} must be odd ('same' padding of the depthwise conv on q) [{}]",
                    kName, d.kernel, to_string(d)));
  }
}

OpCost cost(const CascadedGroupAttentionDesc& d) {
  const CgaWindows g = cga_windows(d);
  const double windows = static_cast<double>(d.n * g.nh * g.nw);
  const double tokens = static_cast<double>(g.tokens());
  const double t = windows * tokens;
  const double c = static_cast<double>(d.c), hd = static_cast<double>(d.c / d.heads),
               kd = static_cast<double>(d.key_dim), k2 = static_cast<double>(d.kernel * d.kernel),
               heads = static_cast<double>(d.heads);
  const double flops = heads * (2 * t * hd * (2 * kd + hd) + 2 * t * kd * k2 +
                                2 * windows * tokens * tokens * (kd + hd)) +
                       2 * t * c * c;
  const std::int64_t per_head = (2 * d.key_dim + d.c / d.heads) * (d.c / d.heads + 1) +
                                d.key_dim * (d.kernel * d.kernel + 1) + g.tokens();
  const std::int64_t params = d.heads * per_head + d.c * (d.c + 1);
  const double image = static_cast<double>(d.n * d.h * d.w) * c;
  return {
      .flops = flops, .bytes = 4.0 * (2 * image + static_cast<double>(params)), .params = params};
}

std::vector<WeightSpec> weight_specs(const CascadedGroupAttentionDesc& d) {
  const CgaWindows g = cga_windows(d);
  const std::int64_t hd = d.c / d.heads;
  std::vector<WeightSpec> specs;
  for (std::int64_t i = 0; i < d.heads; ++i) {
    const std::string n = std::to_string(i);
    const std::int64_t kd = d.key_dim;
    specs.push_back(with_segments({"qkvs." + n + ".weight", {2 * kd + hd, hd}, WeightKind::Matrix},
                                  0, {kd, kd, hd}));
    specs.push_back(
        with_segments({"qkvs." + n + ".bias", {2 * kd + hd}, WeightKind::Bias}, 0, {kd, kd, hd}));
    specs.push_back(
        {"dws." + n + ".weight", {d.key_dim, 1, d.kernel, d.kernel}, WeightKind::Matrix});
    specs.push_back({"dws." + n + ".bias", {d.key_dim}, WeightKind::Bias});
  }
  // Indexed by |dy| * ww + |dx| (EfficientViT's attention_offsets in first-seen order): a smaller
  // window's table is the top-left corner of the grid.
  specs.push_back(with_grid({"attention_biases", {d.heads, g.tokens()}, WeightKind::Table}, 1,
                            SliceRule::LeadingGrid, g.wh, g.ww));
  specs.push_back({"proj.weight", {d.c, d.c}, WeightKind::Matrix});
  specs.push_back({"proj.bias", {d.c}, WeightKind::Bias});
  return specs;
}

struct CascadedGroupAttentionPlan::State {
  CascadedGroupAttentionDesc desc;
  CgaWindows g;
  int threads = 1;
  bool identity_partition = false;  // one unpadded window per sample: window order = NHWC order
  std::vector<LinearPlan> qkv;      // per head, over all padded tokens
  LinearPlan proj;
  Tensor dw_weight;  // [heads, kernel*kernel, key_dim]: tap-major, so a tap is a contiguous row
  Tensor dw_bias;    // [heads, key_dim]
  Tensor bias;       // [heads, N, N]: the table expanded by |dy|*ww + |dx|
  Tensor windowed;   // [T, c] padded input in window order (unused for identity_partition)
  Tensor feat;       // [T, d] one head's input
  Tensor qkv_out;    // [T, 2*key_dim + d]
  Tensor concat;     // [T, c] head outputs, ReLU'd once the next head has read them
  Tensor projected;  // [T, c] proj output in window order (unused for identity_partition)
  Tensor scratch;    // [threads, scratch_stride]: q after the depthwise conv + the tile's scratch
  std::int64_t scratch_stride = 0, tile_offset = 0;
  std::string impl;
};

CascadedGroupAttentionPlan::CascadedGroupAttentionPlan(std::unique_ptr<State> state)
    : state_(std::move(state)) {}
CascadedGroupAttentionPlan::CascadedGroupAttentionPlan(CascadedGroupAttentionPlan&&) noexcept =
    default;
CascadedGroupAttentionPlan& CascadedGroupAttentionPlan::operator=(
    CascadedGroupAttentionPlan&&) noexcept = default;
CascadedGroupAttentionPlan::~CascadedGroupAttentionPlan() = default;

CascadedGroupAttentionPlan CascadedGroupAttentionPlan::create(const Engine& engine,
                                                              const CascadedGroupAttentionDesc& d,
                                                              const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const CgaWindows g = cga_windows(d);
  const std::int64_t n_tok = g.tokens(), hd = d.c / d.heads, kd = d.key_dim,
                     k2 = d.kernel * d.kernel;
  const std::int64_t t = d.n * g.nh * g.nw * n_tok;
  const std::int64_t qkv_ld = 2 * kd + hd;
  const auto copy = [&](const std::string& name) {
    return Tensor::copy_of(weights.get(name, key));
  };

  std::vector<LinearPlan> qkv;
  Tensor dw_weight = Tensor::empty({d.heads, k2, kd});
  Tensor dw_bias = Tensor::empty({d.heads, kd});
  for (std::int64_t i = 0; i < d.heads; ++i) {
    const std::string n = std::to_string(i);
    const Tensor w = copy("qkvs." + n + ".weight"), b = copy("qkvs." + n + ".bias");
    qkv.push_back(LinearPlan::create(engine, {.m = t, .k = hd, .n = qkv_ld}, w.cview(), b.cview()));
    const Tensor dw = copy("dws." + n + ".weight"), dwb = copy("dws." + n + ".bias");
    for (std::int64_t ch = 0; ch < kd; ++ch) {
      for (std::int64_t tap = 0; tap < k2; ++tap) {
        dw_weight.f32()[(i * k2 + tap) * kd + ch] = dw.f32()[ch * k2 + tap];
      }
      dw_bias.f32()[i * kd + ch] = dwb.f32()[ch];
    }
  }
  const Tensor table = copy("attention_biases");
  Tensor bias = Tensor::empty({d.heads, n_tok, n_tok});
  for (std::int64_t i = 0; i < d.heads; ++i) {
    for (std::int64_t a = 0; a < n_tok; ++a) {
      for (std::int64_t b = 0; b < n_tok; ++b) {
        const std::int64_t dy = std::abs(a / g.ww - b / g.ww), dx = std::abs(a % g.ww - b % g.ww);
        bias.f32()[(i * n_tok + a) * n_tok + b] = table.f32()[i * n_tok + dy * g.ww + dx];
      }
    }
  }
  const Tensor proj_w = copy("proj.weight"), proj_b = copy("proj.bias");
  const bool identity = g.nh == 1 && g.nw == 1 && g.wh == d.h && g.ww == d.w;
  const std::int64_t tile_floats =
      cpu::attention_tile_scratch_floats(std::min(kQueryBlock, n_tok), n_tok, kd, hd);
  const std::int64_t q_floats = (n_tok * kd + 15) / 16 * 16;
  auto s = std::make_unique<State>(State{
      .desc = d,
      .g = g,
      .threads = engine.threads(),
      .identity_partition = identity,
      .qkv = std::move(qkv),
      .proj =
          LinearPlan::create(engine, {.m = t, .k = d.c, .n = d.c}, proj_w.cview(), proj_b.cview()),
      .dw_weight = std::move(dw_weight),
      .dw_bias = std::move(dw_bias),
      .bias = std::move(bias),
      .windowed = identity ? Tensor() : Tensor::empty({t, d.c}),
      .feat = Tensor::empty({t, hd}),
      .qkv_out = Tensor::empty({t, qkv_ld}),
      .concat = Tensor::empty({t, d.c}),
      .projected = identity ? Tensor() : Tensor::empty({t, d.c}),
      .scratch_stride = q_floats + (tile_floats + 15) / 16 * 16,
      .tile_offset = q_floats,
  });
  s->scratch = Tensor::empty({s->threads, s->scratch_stride});
  s->impl = fmt::format("hand:cga(tile:{})+{}", cpu::attention_tile_impl(), s->proj.impl_name());
  return CascadedGroupAttentionPlan(std::move(s));
}

void CascadedGroupAttentionPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const CascadedGroupAttentionDesc& d = s.desc;
  const CgaWindows& g = s.g;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == Shape({d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == Shape({d.n, d.h, d.w, d.c}));
  const int threads = s.threads;
  const std::int64_t c = d.c, hd = d.c / d.heads, kd = d.key_dim, k = d.kernel, r = k / 2;
  const std::int64_t n_tok = g.tokens(), windows = d.n * g.nh * g.nw;
  const std::int64_t qkv_ld = 2 * kd + hd;
  const std::int64_t per_sample = g.nh * g.nw;

  // Window order: token t of window (n, wy, wx) is row ((n*nh + wy)*nw + wx)*N + t.
  const auto pixel = [&](std::int64_t win, std::int64_t t, std::int64_t& y, std::int64_t& x) {
    const std::int64_t n = win / per_sample, wy = win % per_sample / g.nw, wx = win % g.nw;
    y = wy * g.wh + t / g.ww;
    x = wx * g.ww + t % g.ww;
    return n;
  };
  // Window order (a copy with zero padding, unless it is the NHWC order already), and head 0's
  // input: its chunk of every token.
  const bool identity = s.identity_partition;
  const float* x_win = identity ? src.f32() : s.windowed.f32();
  {
    float* out = identity ? nullptr : s.windowed.f32();
    const float* in = src.f32();
    float* feat0 = s.feat.f32();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t win = 0; win < windows; ++win) {
      for (std::int64_t t = 0; t < n_tok; ++t) {
        const std::int64_t row_index = win * n_tok + t;
        if (!identity) {
          std::int64_t y = 0, x = 0;
          const std::int64_t n = pixel(win, t, y, x);
          float* row = out + row_index * c;
          if (y < d.h && x < d.w) {
            std::copy_n(in + ((n * d.h + y) * d.w + x) * c, c, row);
          } else {
            std::fill_n(row, c, 0.f);
          }
        }
        std::copy_n(x_win + row_index * c, hd, feat0 + row_index * hd);
      }
    }
  }

  float* feat = s.feat.f32();
  float* concat = s.concat.f32();
  const float* qkv = s.qkv_out.f32();
  float* scratch = s.scratch.f32();
  const std::int64_t scratch_stride = s.scratch_stride, tile_offset = s.tile_offset;
  const float scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(kd)));
  for (std::int64_t head = 0; head < d.heads; ++head) {
    s.qkv[static_cast<std::size_t>(head)].run(s.feat.cview(), s.qkv_out.view());

    const float* dw_w = s.dw_weight.f32() + head * k * k * kd;
    const float* dw_b = s.dw_bias.f32() + head * kd;
    const float* bias = s.bias.f32() + head * n_tok * n_tok;
    const bool last = head == d.heads - 1;
#pragma omp parallel for num_threads(threads) schedule(static)
    for (std::int64_t win = 0; win < windows; ++win) {
      float* mine = scratch + omp_get_thread_num() * scratch_stride;
      float* q = mine;  // [N, key_dim]: q after the depthwise conv
      const float* base = qkv + win * n_tok * qkv_ld;
      for (std::int64_t t = 0; t < n_tok; ++t) {
        const std::int64_t y = t / g.ww, x = t % g.ww;
        float* acc = q + t * kd;
        std::copy_n(dw_b, kd, acc);
        for (std::int64_t ky = std::max<std::int64_t>(0, r - y); ky < std::min(k, g.wh - y + r);
             ++ky) {
          for (std::int64_t kx = std::max<std::int64_t>(0, r - x); kx < std::min(k, g.ww - x + r);
               ++kx) {
            const float* in = base + ((y + ky - r) * g.ww + (x + kx - r)) * qkv_ld;
            const float* wt = dw_w + (ky * k + kx) * kd;
            for (std::int64_t ch = 0; ch < kd; ++ch) acc[ch] += in[ch] * wt[ch];
          }
        }
      }
      for (std::int64_t q0 = 0; q0 < n_tok; q0 += kQueryBlock) {
        const std::int64_t m = std::min(kQueryBlock, n_tok - q0);
        float* o = concat + (win * n_tok + q0) * c + head * hd;
        cpu::attention_tile({.q = q + q0 * kd,
                             .q_stride = kd,
                             .k = base + kd,
                             .k_stride = qkv_ld,
                             .v = base + 2 * kd,
                             .v_stride = qkv_ld,
                             .o = o,
                             .o_stride = c,
                             .bias = bias + q0 * n_tok,
                             .bias_stride = n_tok,
                             .m = m,
                             .n = n_tok,
                             .dk = kd,
                             .dv = hd,
                             .scale = scale},
                            mine + tile_offset);
      }
      // The cascade, while the window is in cache: the next head's input is its chunk plus this
      // head's output, which is then no longer needed before the ReLU and is rectified in place.
      for (std::int64_t row = win * n_tok; row < (win + 1) * n_tok; ++row) {
        float* out = concat + row * c + head * hd;
        if (!last) {
          const float* chunk = x_win + row * c + (head + 1) * hd;
          float* f = feat + row * hd;
          for (std::int64_t ch = 0; ch < hd; ++ch) f[ch] = chunk[ch] + out[ch];
        }
        for (std::int64_t ch = 0; ch < hd; ++ch) out[ch] = std::max(out[ch], 0.f);
      }
    }
  }

  if (s.identity_partition) {
    s.proj.run(s.concat.cview(), dst);
    return;
  }
  s.proj.run(s.concat.cview(), s.projected.view());
  const float* in = s.projected.f32();
  float* out = dst.f32();
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t win = 0; win < windows; ++win) {
    for (std::int64_t t = 0; t < n_tok; ++t) {
      std::int64_t y = 0, x = 0;
      const std::int64_t n = pixel(win, t, y, x);
      if (y < d.h && x < d.w) {
        std::copy_n(in + (win * n_tok + t) * c, c, out + ((n * d.h + y) * d.w + x) * c);
      }
    }
  }
}

std::string_view CascadedGroupAttentionPlan::impl_name() const { return state_->impl; }

MixerEntry cascaded_group_attention_entry() {
  return make_mixer_entry<CascadedGroupAttentionDesc, CascadedGroupAttentionPlan>(
      std::string(kName),
      "EfficientViT cascaded group attention in (clamped, zero-padded) windows: per head a chunk "
      "plus the previous head's output, dwconv on q, attention bias; ReLU, 1x1 proj",
      cascaded_group_attention_params(), cascaded_group_attention_desc_from,
      reference::cascaded_group_attention, kTolerance);
}

}  // namespace hwnas
