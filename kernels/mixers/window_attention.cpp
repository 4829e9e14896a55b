#include "kernels/mixers/window_attention.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/assert.hpp"
#include "kernels/cpu/attention_tile.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/window_attention_ref.hpp"

namespace hwnas {

namespace {

// Test tolerance, relative to max(magnitude, 1) where magnitude = sum_i |proj.w[o,i] * a[i]| +
// |proj.b[o]|. Higham's bound 2*gamma(K+1) per f32 reduction (u = 2^-24), at Swin's widest stage
// (c = 768, N = 49, d = 32):
//   proj (K = c):                                                   2*gamma(769) = 9.2e-5
//   v from the qkv linear (K = c), carried through the convex combination p.v and proj:  9.2e-5
//   p.v (K = N):                                                    2*gamma(50)  = 6.0e-6
// so 2e-4 covers the linear chain. The logits add an absolute error e (q and k carry gamma(c)
// relative error, q.k gamma(d), expf a few ulp), which moves p, and so a, by a relative e; e's
// bound scales with scale * sum|q||k| (~1 for these inputs) and is met only if every rounding
// aligns. Measured: max |got - ref| / max(magnitude, 1) is 5e-8 .. 2e-7 over the cases of
// window_attention_test (c = 8 .. 768). A missing mask moves outputs by ~0.2 relative (the mask
// test), a wrong bias index or roll by O(0.1): far outside.
constexpr double kTolerance = 2e-4;

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 14;
// Loop items per thread below which heads are split across items (load balance of a static
// schedule over a handful of windows).
constexpr std::int64_t kItemsPerThread = 4;

std::int64_t round_up(std::int64_t v, std::int64_t to) { return (v + to - 1) / to * to; }

// The geometry of torchvision's padding and shift clamping.
struct Geometry {
  std::int64_t padded_h = 0, padded_w = 0, windows_y = 0, windows_x = 0;
  std::int64_t shift_h = 0, shift_w = 0;  // effective: 0 where the window covers the padded map
  std::int64_t tokens = 0;                // per window: window * window_w
};

Geometry geometry_of(const WindowAttentionDesc& d) {
  Geometry g;
  g.padded_h = round_up(d.h, d.window);
  g.padded_w = round_up(d.w, d.window_w);
  g.windows_y = g.padded_h / d.window;
  g.windows_x = g.padded_w / d.window_w;
  g.shift_h = d.window >= g.padded_h ? 0 : d.shift;
  g.shift_w = d.window_w >= g.padded_w ? 0 : d.shift_w;
  g.tokens = d.window * d.window_w;
  return g;
}

}  // namespace

std::span<const ParamSpec> window_attention_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> specs = mixer_shape_params();
    specs.push_back({.name = "heads",
                     .default_value = "3",
                     .min = 1,
                     .max = 1 << 16,
                     .help = "attention heads (must divide c)"});
    specs.push_back({.name = "window",
                     .default_value = "7",
                     .min = 1,
                     .max = kMaxExtent,
                     .help = "window height (and width unless window_w is given)"});
    specs.push_back({.name = "window_w",
                     .default_value = "0",
                     .min = 0,
                     .max = kMaxExtent,
                     .help = "window width; 0 = window"});
    specs.push_back({.name = "shift",
                     .default_value = "0",
                     .min = 0,
                     .max = kMaxExtent,
                     .help = "cyclic shift (rows), < window"});
    specs.push_back({.name = "shift_w",
                     .default_value = "-1",
                     .min = -1,
                     .max = kMaxExtent,
                     .help = "cyclic shift (columns), < window_w; -1 = shift"});
    specs.push_back({.name = "qkv_bias",
                     .default_value = "1",
                     .min = 0,
                     .max = 1,
                     .help = "qkv linear has a bias"});
    return specs;
  }();
  return kSpecs;
}

std::string to_string(const WindowAttentionDesc& d) {
  const auto s = [](std::int64_t v) { return std::to_string(v); };
  return make_key("window_attention", {{"n", s(d.n)},
                                       {"h", s(d.h)},
                                       {"w", s(d.w)},
                                       {"c", s(d.c)},
                                       {"heads", s(d.heads)},
                                       {"window", s(d.window)},
                                       {"window_w", s(d.window_w)},
                                       {"shift", s(d.shift)},
                                       {"shift_w", s(d.shift_w)},
                                       {"qkv_bias", d.qkv_bias == Bias::Add ? "1" : "0"}});
}

WindowAttentionDesc window_attention_desc_from(const Params& p) {
  const MixerShape shape = mixer_shape_from(p);
  WindowAttentionDesc d{.n = shape.n,
                        .h = shape.h,
                        .w = shape.w,
                        .c = shape.c,
                        .heads = p.integer("heads"),
                        .window = p.integer("window"),
                        .window_w = p.integer("window_w"),
                        .shift = p.integer("shift"),
                        .shift_w = p.integer("shift_w"),
                        .qkv_bias = p.integer("qkv_bias") != 0 ? Bias::Add : Bias::None};
  if (d.window_w == 0) d.window_w = d.window;
  if (d.shift_w == -1) d.shift_w = d.shift;
  check(d);
  return d;
}

void check(const WindowAttentionDesc& d) {
  const std::string key = to_string(d);
  const auto positive = [&](std::string_view name, std::int64_t v) {
    if (v < 1) {
      throw InvalidArgument(fmt::format("window_attention: {}={} must be >= 1 [{}]", name, v, key));
    }
  };
  positive("n", d.n);
  positive("h", d.h);
  positive("w", d.w);
  positive("c", d.c);
  positive("heads", d.heads);
  positive("window", d.window);
  positive("window_w", d.window_w);
  check_heads_divide_channels("window_attention", d.heads, d.c, key);
  if (d.shift < 0 || d.shift >= d.window) {
    throw InvalidArgument(fmt::format("window_attention: shift={} must be in [0, window={}) [{}]",
                                      d.shift, d.window, key));
  }
  if (d.shift_w < 0 || d.shift_w >= d.window_w) {
    throw InvalidArgument(
        fmt::format("window_attention: shift_w={} must be in [0, window_w={}) [{}]", d.shift_w,
                    d.window_w, key));
  }
  if (d.window * d.window_w > kMaxWindowTokens) {
    throw InvalidArgument(fmt::format(
        "window_attention: window={} x window_w={} = {} tokens exceeds {} per window (use mhsa "
        "for global attention) [{}]",
        d.window, d.window_w, d.window * d.window_w, kMaxWindowTokens, key));
  }
}

OpCost cost(const WindowAttentionDesc& d) {
  const Geometry g = geometry_of(d);
  const double c = static_cast<double>(d.c);
  const double tokens = static_cast<double>(d.n * d.h * d.w);
  const double queries = static_cast<double>(d.n * g.padded_h * g.padded_w);
  const double table = static_cast<double>((2 * d.window - 1) * (2 * d.window_w - 1) * d.heads);
  const double qkv_bias = d.qkv_bias == Bias::Add ? 3.0 * c : 0.0;
  const double weights = 3.0 * c * c + qkv_bias + c * c + c + table;
  return {.flops = 8.0 * tokens * c * c + 4.0 * queries * static_cast<double>(g.tokens) * c,
          .bytes = 4.0 * (2.0 * tokens * c + weights),
          .params = static_cast<std::int64_t>(weights)};
}

std::vector<WeightSpec> weight_specs(const WindowAttentionDesc& d) {
  std::vector<WeightSpec> specs;
  const std::int64_t c = d.c;
  specs.push_back(with_segments({"qkv.weight", {3 * c, c}, WeightKind::Matrix}, 0, {c, c, c}));
  if (d.qkv_bias == Bias::Add) {
    specs.push_back(with_segments({"qkv.bias", {3 * c}, WeightKind::Bias}, 0, {c, c, c}));
  }
  specs.push_back({"proj.weight", {d.c, d.c}, WeightKind::Matrix});
  specs.push_back({"proj.bias", {d.c}, WeightKind::Bias});
  // Indexed by (dy + wh-1) * (2ww-1) + dx + ww-1: a smaller window's table is the centre.
  const std::int64_t rows = 2 * d.window - 1, cols = 2 * d.window_w - 1;
  specs.push_back(
      with_grid({"relative_position_bias_table", {rows * cols, d.heads}, WeightKind::Table}, 0,
                SliceRule::CentreGrid, rows, cols));
  return specs;
}

namespace {

// Region of a window-relative offset along one dimension of Swin's 3x3 split, for the last window
// of that dimension (earlier windows lie in one region); only equality matters.
int last_window_region(std::int64_t offset_in_window, std::int64_t window, std::int64_t shift) {
  return shift > 0 && offset_in_window >= window - shift ? 1 : 0;
}

// Everything the (image, window, head) loop reads, prepared at create.
struct Windows {
  WindowAttentionDesc desc;
  Geometry geometry;
  std::int64_t head_dim = 0;
  float scale = 1.f;
  Tensor pad_row;  // [3c]: qkv of a padded (zero) token, i.e. the qkv bias
  // [types, heads, N, N]: relative position bias + shift mask per window type; the type is
  // last_row * types_x + last_col, where a dimension without shift has a single type.
  Tensor bias_mask;
  std::int64_t types_x = 1;
  // Heads one loop item runs: all of them where windows alone give every thread enough items
  // (one gather of whole qkv rows per token), fewer where there are few windows (Swin's stage 4 has
  // one window per image).
  std::int64_t group_heads = 1;
  // Per-thread float scratch: gathered q|k|v rows [N, 3 * group_heads * d], output rows
  // [N, group_heads * d], then the tile's own; and per thread the source token of each window
  // position [N].
  std::int64_t gather_floats = 0, out_floats = 0, scratch_floats = 0;

  void fill_bias_mask(ConstTensorView table);
  void run(std::int64_t item, const float* qkv, float* attention, float* scratch,
           std::int64_t* rows) const noexcept;
};

void Windows::fill_bias_mask(ConstTensorView table) {
  const WindowAttentionDesc& d = desc;
  const std::int64_t n_tok = geometry.tokens;
  const std::int64_t types_y = geometry.shift_h > 0 ? 2 : 1;
  types_x = geometry.shift_w > 0 ? 2 : 1;
  bias_mask = Tensor::empty({types_y * types_x, d.heads, n_tok, n_tok});
  const Tensor contiguous = Tensor::copy_of(table);  // [(2wh-1)*(2ww-1), heads]
  for (std::int64_t ty = 0; ty < types_y; ++ty) {
    for (std::int64_t tx = 0; tx < types_x; ++tx) {
      const std::int64_t type = ty * types_x + tx;
      for (std::int64_t head = 0; head < d.heads; ++head) {
        float* block = bias_mask.f32() + (type * d.heads + head) * n_tok * n_tok;
        for (std::int64_t i = 0; i < n_tok; ++i) {
          const std::int64_t iy = i / d.window_w, ix = i % d.window_w;
          for (std::int64_t j = 0; j < n_tok; ++j) {
            const std::int64_t jy = j / d.window_w, jx = j % d.window_w;
            const std::int64_t index =
                (iy - jy + d.window - 1) * (2 * d.window_w - 1) + (ix - jx + d.window_w - 1);
            const bool split_y = ty == 1 && last_window_region(iy, d.window, geometry.shift_h) !=
                                                last_window_region(jy, d.window, geometry.shift_h);
            const bool split_x =
                tx == 1 && last_window_region(ix, d.window_w, geometry.shift_w) !=
                               last_window_region(jx, d.window_w, geometry.shift_w);
            block[i * n_tok + j] =
                contiguous.f32()[index * d.heads + head] + (split_y || split_x ? -100.f : 0.f);
          }
        }
      }
    }
  }
}

// One (image, window, group of heads): gather through roll + padding, attention per head, scatter
// to the real tokens.
void Windows::run(std::int64_t item, const float* qkv, float* attention, float* scratch,
                  std::int64_t* rows) const noexcept {
  const WindowAttentionDesc& d = desc;
  const Geometry& g = geometry;
  const std::int64_t hd = head_dim, c = d.c, n_tok = g.tokens, width = group_heads * head_dim;
  const std::int64_t groups = d.heads / group_heads;
  const std::int64_t first_head = (item % groups) * group_heads;
  const std::int64_t window = item / groups;
  const std::int64_t wx = window % g.windows_x;
  const std::int64_t wy = (window / g.windows_x) % g.windows_y;
  const std::int64_t image = window / (g.windows_x * g.windows_y);
  float* gathered = scratch;
  float* out = scratch + gather_floats;
  float* tile_scratch = out + out_floats;
  // Rolled position r holds padded position (r + shift) mod padded size (torch.roll by -shift);
  // -1 marks a padded token.
  for (std::int64_t iy = 0, t = 0; iy < d.window; ++iy) {
    std::int64_t y = wy * d.window + iy + g.shift_h;
    if (y >= g.padded_h) y -= g.padded_h;
    for (std::int64_t ix = 0; ix < d.window_w; ++ix, ++t) {
      std::int64_t x = wx * d.window_w + ix + g.shift_w;
      if (x >= g.padded_w) x -= g.padded_w;
      rows[t] = y < d.h && x < d.w ? (image * d.h + y) * d.w + x : -1;
    }
  }
  // Gathered token t: [q | k | v] of the group's heads, 3 * width floats.
  const std::size_t group_bytes = static_cast<std::size_t>(width) * sizeof(float);
  for (std::int64_t t = 0; t < n_tok; ++t) {
    const float* src = (rows[t] >= 0 ? qkv + rows[t] * 3 * c : pad_row.f32()) + first_head * hd;
    float* dst = gathered + t * 3 * width;
    if (width == c) {
      std::memcpy(dst, src, 3 * group_bytes);
    } else {
      std::memcpy(dst, src, group_bytes);
      std::memcpy(dst + width, src + c, group_bytes);
      std::memcpy(dst + 2 * width, src + 2 * c, group_bytes);
    }
  }
  const bool last_row = g.shift_h > 0 && wy == g.windows_y - 1;
  const bool last_col = g.shift_w > 0 && wx == g.windows_x - 1;
  const std::int64_t type = (last_row ? types_x : 0) + (last_col ? 1 : 0);
  for (std::int64_t j = 0; j < group_heads; ++j) {
    cpu::attention_tile(
        {.q = gathered + j * hd,
         .q_stride = 3 * width,
         .k = gathered + width + j * hd,
         .k_stride = 3 * width,
         .v = gathered + 2 * width + j * hd,
         .v_stride = 3 * width,
         .o = out + j * hd,
         .o_stride = width,
         .bias = bias_mask.f32() + (type * d.heads + first_head + j) * n_tok * n_tok,
         .bias_stride = n_tok,
         .m = n_tok,
         .n = n_tok,
         .dk = hd,
         .dv = hd,
         .scale = scale},
        tile_scratch);
  }
  for (std::int64_t t = 0; t < n_tok; ++t) {
    if (rows[t] >= 0) {
      std::memcpy(attention + rows[t] * c + first_head * hd, out + t * width, group_bytes);
    }
  }
}

}  // namespace

struct WindowAttentionPlan::State {
  Windows windows;
  int threads = 1;
  LinearPlan qkv, proj;
  Tensor qkv_rows;   // [n*h*w, 3c]: qkv of the real tokens
  Tensor attention;  // [n*h*w, c]: attention output before proj, heads concatenated
  Tensor scratch;    // [threads, windows.scratch_floats]
  std::vector<std::int64_t> rows;  // [threads, rows_stride]: one cache line apart at least
  std::int64_t rows_stride = 0;
  std::string impl;
};

WindowAttentionPlan::WindowAttentionPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
WindowAttentionPlan::WindowAttentionPlan(WindowAttentionPlan&&) noexcept = default;
WindowAttentionPlan& WindowAttentionPlan::operator=(WindowAttentionPlan&&) noexcept = default;
WindowAttentionPlan::~WindowAttentionPlan() = default;

WindowAttentionPlan WindowAttentionPlan::create(const Engine& engine, const WindowAttentionDesc& d,
                                                const MixerWeights& weights) {
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  check(d);
  const std::int64_t tokens = d.n * d.h * d.w;
  const ConstTensorView qkv_bias =
      d.qkv_bias == Bias::Add ? weights.get("qkv.bias", key) : ConstTensorView();
  Windows windows{.desc = d,
                  .geometry = geometry_of(d),
                  .head_dim = d.c / d.heads,
                  .scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(d.c / d.heads)))};
  windows.pad_row = Tensor::zeros({3 * d.c});
  if (d.qkv_bias == Bias::Add) copy(qkv_bias, windows.pad_row.view());
  windows.fill_bias_mask(weights.get("relative_position_bias_table", key));
  const Geometry& g = windows.geometry;
  const std::int64_t n_tok = g.tokens, hd = windows.head_dim;
  const std::int64_t windows_total = d.n * g.windows_y * g.windows_x;
  for (std::int64_t group = d.heads; group >= 1; --group) {
    if (d.heads % group == 0 &&
        windows_total * (d.heads / group) >= kItemsPerThread * engine.threads()) {
      windows.group_heads = group;
      break;
    }
  }
  windows.gather_floats = round_up(n_tok * 3 * windows.group_heads * hd, 16);
  windows.out_floats = round_up(n_tok * windows.group_heads * hd, 16);
  windows.scratch_floats = windows.gather_floats + windows.out_floats +
                           round_up(cpu::attention_tile_scratch_floats(n_tok, n_tok, hd, hd), 16);
  auto s = std::make_unique<State>(State{
      .windows = std::move(windows),
      .threads = engine.threads(),
      .qkv = LinearPlan::create(engine, {.m = tokens, .k = d.c, .n = 3 * d.c, .bias = d.qkv_bias},
                                weights.get("qkv.weight", key), qkv_bias),
      .proj = LinearPlan::create(engine, {.m = tokens, .k = d.c, .n = d.c, .bias = Bias::Add},
                                 weights.get("proj.weight", key), weights.get("proj.bias", key)),
  });
  s->qkv_rows = Tensor::empty({tokens, 3 * d.c});
  s->attention = Tensor::empty({tokens, d.c});
  s->scratch = Tensor::zeros({s->threads, s->windows.scratch_floats});
  s->rows_stride = round_up(n_tok, 8);
  s->rows.assign(static_cast<std::size_t>(s->threads * s->rows_stride), 0);
  s->impl =
      fmt::format("{}+hand:window_attention_{}", s->qkv.impl_name(), cpu::attention_tile_impl());
  return WindowAttentionPlan(std::move(s));
}

void WindowAttentionPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const WindowAttentionDesc& d = s.windows.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == (Shape{d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == (Shape{d.n, d.h, d.w, d.c}));
  const std::int64_t tokens = d.n * d.h * d.w;
  s.qkv.run(src.reshape({tokens, d.c}), s.qkv_rows.view());
  const Geometry& g = s.windows.geometry;
  const std::int64_t items = d.n * g.windows_y * g.windows_x * (d.heads / s.windows.group_heads);
  const Windows& windows = s.windows;
  const float* qkv = s.qkv_rows.f32();
  float* attention = s.attention.f32();
  float* scratch = s.scratch.f32();
  std::int64_t* rows = s.rows.data();
  const std::int64_t rows_stride = s.rows_stride;
#pragma omp parallel num_threads(s.threads)
  {
    const int member = omp_get_thread_num();
    float* my_scratch = scratch + member * windows.scratch_floats;
    std::int64_t* my_rows = rows + member * rows_stride;
#pragma omp for schedule(static)
    for (std::int64_t item = 0; item < items; ++item) {
      windows.run(item, qkv, attention, my_scratch, my_rows);
    }
  }
  s.proj.run(s.attention.cview(), dst.reshape({tokens, d.c}));
}

std::string_view WindowAttentionPlan::impl_name() const { return state_->impl; }
const WindowAttentionDesc& WindowAttentionPlan::desc() const { return state_->windows.desc; }

MixerEntry window_attention_entry() {
  return make_mixer_entry<WindowAttentionDesc, WindowAttentionPlan>(
      "window_attention",
      "Swin (shifted) window attention with relative position bias, as torchvision's swin_t",
      window_attention_params(), window_attention_desc_from,
      [](const WindowAttentionDesc& d, const ConstTensorView& src, const MixerWeights& w) {
        return reference::window_attention(d, src, w);
      },
      kTolerance);
}

}  // namespace hwnas
