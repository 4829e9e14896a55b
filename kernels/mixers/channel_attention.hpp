// channel_attention: DaViT's channel group attention (Ding et al., ECCV 2022; timm davit.py
// ChannelAttention). Tokens attend across channels instead of across positions:
//
//   q, k, v = split(x . qkv.weight^T (+ qkv.bias), 3), each [N, heads, d], d = c / heads
//   per head:  A = softmax_j(sum_n (k[n, i] * d^-0.5) v[n, j])      [d x d], over all N = h*w
//   tokens
//              out[n, i] = sum_j A[i, j] q[n, j]                    (timm: (A @ q^T)^T)
//   y = concat_heads(out) . proj.weight^T + proj.bias
//
// The cost is linear in the number of tokens, but the d x d logits are sums over all N tokens, so
// their magnitude (and rounding error) grows with N.
//
// Weights (timm's names and nn.Linear layout [out, in]):
//   qkv.weight [3c, c], qkv.bias [3c] (only when qkv_bias=1; DaViT uses qkv_bias=True)
//   proj.weight [c, c], proj.bias [c]
//
// Layouts: src and dst NHWC [n, h, w, c], contiguous (tokens = the h*w positions of a sample).
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
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"

namespace hwnas {

struct ChannelAttentionDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t heads = 3;  // channel groups; divides c
  Bias qkv_bias = Bias::Add;
  friend bool operator==(const ChannelAttentionDesc&, const ChannelAttentionDesc&) = default;
};

std::span<const ParamSpec> channel_attention_params();
// "channel_attention:n=1,h=56,w=56,c=96,heads=3,qkv_bias=1"
std::string to_string(const ChannelAttentionDesc& desc);
ChannelAttentionDesc channel_attention_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, heads not dividing c.
void check(const ChannelAttentionDesc& desc);
// FLOPs: qkv 2*T*c*3c + k^T v 2*T*c*d + A q 2*T*c*d + proj 2*T*c*c, T = n*h*w, d = c/heads; the
// d x d softmax is not counted. bytes: src + dst + weights, f32, each once.
OpCost cost(const ChannelAttentionDesc& desc);
std::vector<WeightSpec> weight_specs(const ChannelAttentionDesc& desc);

class ChannelAttentionPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights (check_weights), creates the qkv and proj linear plans and the
  // per-thread partial sums of k^T v. Throws InvalidArgument or Unsupported.
  static ChannelAttentionPlan create(const Engine& engine, const ChannelAttentionDesc& desc,
                                     const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  ChannelAttentionPlan(ChannelAttentionPlan&&) noexcept;
  ChannelAttentionPlan& operator=(ChannelAttentionPlan&&) noexcept;
  ~ChannelAttentionPlan() override;

 private:
  struct State;
  explicit ChannelAttentionPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
