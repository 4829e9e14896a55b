// cascaded_group_attention: EfficientViT-M's LocalWindowAttention around CascadedGroupAttention
// (Liu et al., CVPR 2023).
//
// Windows: the effective window is wh x ww = min(window, h) x min(window, w) (EfficientViT clamps
// the window to the resolution). A larger map is zero-padded at the bottom/right to multiples of
// the window, every window is attended on its own, and the result is cropped. The padded tokens are
// real tokens inside the attention (value 0 at the input, as in EfficientViT; there is no mask).
//
// Inside a window of N = wh*ww tokens, with d = c / heads:
//   feat_0 = x[:, 0:d];  feat_i = x[:, i*d:(i+1)*d] + out_{i-1}      (the cascade, i > 0)
//   q, k, v = split(feat_i . qkvs.i.weight^T + qkvs.i.bias, [key_dim, key_dim, d])
//   q = depthwise kernel x kernel conv of q over the window's wh x ww grid ('same' zero padding at
//       the window border) + dws.i.bias
//   out_i = softmax(q k^T * key_dim^-0.5 + B_i) v,  B_i[a, b] = attention_biases[i, |dy|*ww + |dx|]
//   y = ReLU(concat(out_0, ..., out_{heads-1})) . proj.weight^T + proj.bias
// (dy, dx) is the offset between tokens a and b inside the window; |dy|*ww + |dx| is the index
// EfficientViT's attention_offsets dict assigns (first-seen order over itertools.product of the
// window's rows and columns, starting from (0, 0)).
//
// Weights (EfficientViT's names with the Conv2d_BN's BN folded; 1x1 convs in Linear layout
// [out, in], the depthwise conv in OIHW):
//   qkvs.{i}.weight [2*key_dim + d, d], qkvs.{i}.bias [2*key_dim + d]        for i < heads
//   dws.{i}.weight [key_dim, 1, kernel, kernel], dws.{i}.bias [key_dim]
//   attention_biases [heads, wh*ww] with the CLAMPED window: EfficientViT builds its
//       CascadedGroupAttention with resolution = min(window, resolution), so a stage whose map is
//       smaller than the window (EfficientViT-M's 4x4 stage 3) has a table of 16 offsets, not 49.
//   proj.weight [c, c], proj.bias [c]
//
// Layouts: src and dst NHWC [n, h, w, c], contiguous.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/engine.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"

namespace hwnas {

struct CascadedGroupAttentionDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t heads = 4;     // divides c
  std::int64_t key_dim = 16;  // query/key width per head
  std::int64_t window = 7;    // window side before clamping to h, w
  std::int64_t kernel = 5;    // odd; depthwise conv on q
  friend bool operator==(const CascadedGroupAttentionDesc&,
                         const CascadedGroupAttentionDesc&) = default;
};

// The window geometry a desc implies.
struct CgaWindows {
  std::int64_t wh = 1, ww = 1;  // effective window
  std::int64_t nh = 1, nw = 1;  // windows per column / row of one sample (after padding)
  std::int64_t tokens() const { return wh * ww; }
};
CgaWindows cga_windows(const CascadedGroupAttentionDesc& desc);

std::span<const ParamSpec> cascaded_group_attention_params();
// "cascaded_group_attention:n=1,h=56,w=56,c=96,heads=4,key_dim=16,window=7,kernel=5"
std::string to_string(const CascadedGroupAttentionDesc& desc);
CascadedGroupAttentionDesc cascaded_group_attention_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, heads not dividing c,
// an even kernel.
void check(const CascadedGroupAttentionDesc& desc);
// FLOPs over the padded tokens (what runs): per head qkv 2*T*d*(2*key_dim + d), depthwise
// 2*T*key_dim*kernel^2, scores and P.V 2*windows*N^2*(key_dim + d); proj 2*T*c*c; T = padded
// tokens. Softmax, bias and ReLU are not counted. bytes: src + dst + weights, f32.
OpCost cost(const CascadedGroupAttentionDesc& desc);
std::vector<WeightSpec> weight_specs(const CascadedGroupAttentionDesc& desc);

class CascadedGroupAttentionPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights (check_weights), creates one qkv linear plan per head and the
  // proj plan over all (padded, window-ordered) tokens, expands the bias table to N x N per head
  // and allocates scratch. Throws InvalidArgument or Unsupported.
  static CascadedGroupAttentionPlan create(const Engine& engine,
                                           const CascadedGroupAttentionDesc& desc,
                                           const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  CascadedGroupAttentionPlan(CascadedGroupAttentionPlan&&) noexcept;
  CascadedGroupAttentionPlan& operator=(CascadedGroupAttentionPlan&&) noexcept;
  ~CascadedGroupAttentionPlan() override;

 private:
  struct State;
  explicit CascadedGroupAttentionPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
