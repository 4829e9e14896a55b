// window_attention: Swin's (shifted) window multi-head self-attention, exactly torchvision's
// `shifted_window_attention` (swin_t), so a checkpoint of torchvision's ShiftedWindowAttention
// gives the same output.
//
// For src x [n, h, w, c] (NHWC) with window wh x ww (window, window_w) and shift sh, sw:
//   1. x is padded at the bottom/right with zeros to ph x pw, multiples of the window. The padding
//      happens BEFORE the qkv projection, so padded tokens carry the qkv bias.
//   2. Where the window covers the padded map in a dimension (wh >= ph, or ww >= pw), the shift in
//      that dimension is 0.
//   3. The padded map is rolled by (-sh, -sw) (torch.roll) and split into (ph/wh)*(pw/ww) windows
//      of N = wh*ww tokens.
//   4. Per window and head (d = c/heads): softmax(q*d^-0.5 . k^T + B + M) v, where B is the
//      relative position bias (table [(2wh-1)*(2ww-1), heads] indexed as Swin's
//      relative_position_index: (dy + wh-1)*(2ww-1) + (dx + ww-1)) and M is -100 where the two
//      tokens come from different regions of the rolled map's 3x3 split (rows [0, ph-wh), [ph-wh,
//      ph-sh), [ph-sh, ph); likewise columns; no split in a dimension whose shift is 0) and 0
//      elsewhere; M is absent when both shifts are 0.
//   5. The windows are merged, rolled back by (+sh, +sw), cropped to h x w, and projected.
//
// Weights (torchvision names and layouts): qkv.weight [3c, c], qkv.bias [3c] (only when
// qkv_bias=1), proj.weight [c, c], proj.bias [c], relative_position_bias_table [(2wh-1)*(2ww-1),
// heads].
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/bias.hpp"
#include "kernels/engine.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"

namespace hwnas {

struct WindowAttentionDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t heads = 3;                 // must divide c
  std::int64_t window = 7, window_w = 7;  // window height and width, >= 1
  std::int64_t shift = 0, shift_w = 0;    // 0 <= shift < window, 0 <= shift_w < window_w
  Bias qkv_bias = Bias::Add;
  friend bool operator==(const WindowAttentionDesc&, const WindowAttentionDesc&) = default;
};

// Shape params, then heads, window, window_w (0 = window), shift, shift_w (-1 = shift), qkv_bias.
std::span<const ParamSpec> window_attention_params();
// "window_attention:n=1,h=56,w=56,c=96,heads=3,window=7,window_w=7,shift=3,shift_w=3,qkv_bias=1":
// window_w and shift_w are written resolved, so the key parses back to the same desc.
std::string to_string(const WindowAttentionDesc& desc);
// Resolves window_w=0 and shift_w=-1, then check(). Throws InvalidArgument.
WindowAttentionDesc window_attention_desc_from(const Params& params);
// Throws InvalidArgument naming the field, its value, the rule and the key: heads must divide c,
// shift < window, shift_w < window_w, window*window_w <= kMaxWindowTokens.
void check(const WindowAttentionDesc& desc);
// FLOPs: qkv 6*T*c^2 and proj 2*T*c^2 over the T = n*h*w real tokens (padded tokens need no
// projection: their qkv is the bias), plus QK^T and PV, 4*N*c per query, over every padded window
// (what runs, and what torchvision runs). Softmax, bias and mask additions are not counted.
// bytes: src + dst + weights, f32, each once. params: every weight of weight_specs().
OpCost cost(const WindowAttentionDesc& desc);
std::vector<WeightSpec> weight_specs(const WindowAttentionDesc& desc);

// Bias + mask tables are precomputed per head and window type, N^2 floats each: windows beyond
// 32x32 tokens are global attention and belong to mhsa.
inline constexpr std::int64_t kMaxWindowTokens = 1024;

// Runs: qkv linear over the real tokens (oneDNN); then one OpenMP loop over (image, window, group
// of heads) that gathers the window's q/k/v rows through the roll and padding arithmetic (padded
// tokens read the qkv bias), runs cpu::attention_tile per head with the precomputed bias + mask of
// the window's type (interior, last column, last row, corner) and scatters the rows to their
// un-rolled, un-padded tokens; then the proj linear. No padded or rolled copy of the map exists;
// per-thread scratch holds one window's q/k/v and output for one group of heads.
class WindowAttentionPlan final : public MixerPlan {
 public:
  // Checks desc and weights (check_weights first); throws InvalidArgument or Unsupported.
  static WindowAttentionPlan create(const Engine& engine, const WindowAttentionDesc& desc,
                                    const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;
  const WindowAttentionDesc& desc() const;

  WindowAttentionPlan(WindowAttentionPlan&&) noexcept;
  WindowAttentionPlan& operator=(WindowAttentionPlan&&) noexcept;
  ~WindowAttentionPlan() override;

 private:
  struct State;
  explicit WindowAttentionPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
