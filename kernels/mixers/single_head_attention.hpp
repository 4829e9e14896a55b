// single_head_attention: SHViT's single-head self-attention (SHSA, Yun & Ro, CVPR 2024) on a
// partial channel slice.
//
//   x1, x2 = x[..., :pdim], x[..., pdim:]
//   x1 = GroupNorm(1 group)(x1)            mean and variance over all pdim*h*w values of a sample,
//                                          eps 1e-5, then a per-channel affine
//   q, k, v = split(x1 . qkv.weight^T + qkv.bias, [qk_dim, qk_dim, pdim])
//   x1 = softmax(q k^T * qk_dim^-0.5) v    one head, every token attends to all h*w tokens
//   y = ReLU(concat(x1, x2)) . proj.weight^T + proj.bias
//
// x2 passes through untouched until the ReLU before proj (SHViT's proj is Sequential(ReLU,
// Conv2d_BN)). pdim = c is allowed: x2 is then empty and the attention sees every channel (SHViT's
// torch.split accepts an empty second part).
//
// Weights (names as SHViT's SHSA module; the 1x1 Conv2d_BN layers are written with the BN folded
// and in Linear layout [out, in], not OIHW [out, in, 1, 1]):
//   pre_norm.weight [pdim], pre_norm.bias [pdim]
//   qkv.weight [2*qk_dim + pdim, pdim], qkv.bias [2*qk_dim + pdim]
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

struct SingleHeadAttentionDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t pdim = 32;    // channels that go through attention, 1 <= pdim <= c
  std::int64_t qk_dim = 16;  // query/key width
  friend bool operator==(const SingleHeadAttentionDesc&, const SingleHeadAttentionDesc&) = default;
};

inline constexpr double kSingleHeadAttentionGroupNormEps = 1e-5;

std::span<const ParamSpec> single_head_attention_params();
// "single_head_attention:n=1,h=56,w=56,c=96,pdim=32,qk_dim=16"
std::string to_string(const SingleHeadAttentionDesc& desc);
SingleHeadAttentionDesc single_head_attention_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, pdim > c, qk_dim < 1.
void check(const SingleHeadAttentionDesc& desc);
// FLOPs: qkv 2*T*pdim*(2*qk_dim+pdim) + scores 2*n*(hw)^2*qk_dim + P.V 2*n*(hw)^2*pdim + proj
// 2*T*c*c, T = n*h*w; GroupNorm, softmax and ReLU are not counted. bytes: src + dst + weights.
OpCost cost(const SingleHeadAttentionDesc& desc);
std::vector<WeightSpec> weight_specs(const SingleHeadAttentionDesc& desc);

class SingleHeadAttentionPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights (check_weights), copies the weights, creates the two linear
  // plans and allocates scratch (per thread for the attention tiles). Throws InvalidArgument or
  // Unsupported.
  static SingleHeadAttentionPlan create(const Engine& engine, const SingleHeadAttentionDesc& desc,
                                        const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  SingleHeadAttentionPlan(SingleHeadAttentionPlan&&) noexcept;
  SingleHeadAttentionPlan& operator=(SingleHeadAttentionPlan&&) noexcept;
  ~SingleHeadAttentionPlan() override;

 private:
  struct State;
  explicit SingleHeadAttentionPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
