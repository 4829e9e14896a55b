// linear_attention: kernelised (linear) self-attention, O(N) in the number of tokens.
//
//   qkv = src . qkv.weight^T + qkv.bias                   [tokens, 3c]: q | k | v, each c wide,
//                                                          head h on channels [h*d, (h+1)*d)
//   per batch and head, with phi the feature map applied to every element of q and k:
//     KV = sum_n phi(k_n) v_n^T   [d, d],     z = sum_n phi(k_n)   [d]
//     o_n = (phi(q_n)^T KV) / (phi(q_n)^T z + eps),   eps = 1e-6
//   phi: elu1 = elu(x) + 1 (Katharopoulos et al. 2020, "Transformers are RNNs"), or relu
//   (EfficientViT's ReLU linear attention). phi >= 0, so o_n is a convex combination of the v_n
//   shrunk by eps; eps keeps relu's all-zero phi(q_n) (denominator 0) finite: o_n = 0 there.
//   Optional local enhancement (FLatten Transformer's DWC, Han et al. 2023): o += a depthwise
//   k x k conv (with bias, 'same' zero padding) of v over the 2-D map. FLatten shares one
//   head_dim-channel conv across heads; here each of the c channels has its own filter
//   (dwc.weight [c, 1, k, k]), which contains FLatten's as the weight-tied case.
//   dst = o . proj.weight^T + proj.bias.
//
// Params: n, h, w, c; heads (default 3, must divide c); feature_map (relu | elu1, default elu1);
// local_kernel (0 = none, else odd in 3..13; default 0); qkv_bias (0/1, default 1).
//
// Weights (PyTorch names and layouts): qkv.weight [3c, c], qkv.bias [3c] (qkv_bias = 1),
// proj.weight [c, c], proj.bias [c], dwc.weight [c, 1, k, k] and dwc.bias [c] (local_kernel > 0).
//
// Implementation: oneDNN matmul (LinearPlan) for qkv and proj; phi applied in place and KV/z
// accumulated by hand kernels (kernels/cpu/linear_attention_kernels.hpp) with the tokens split
// across threads and the partial d x d sums added afterwards; the DWC on Conv2dPlan (depthwise,
// hand NHWC kernel where it is faster).
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

enum class FeatureMap { Relu, Elu1 };
std::string_view to_string(FeatureMap map);        // "relu", "elu1"
FeatureMap parse_feature_map(std::string_view s);  // throws InvalidArgument

// The denominator's eps (as Katharopoulos et al.'s reference code).
inline constexpr float kLinearAttentionEps = 1e-6f;

struct LinearAttentionDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t heads = 3;
  FeatureMap feature_map = FeatureMap::Elu1;
  std::int64_t local_kernel = 0;
  Bias qkv_bias = Bias::Add;
  friend bool operator==(const LinearAttentionDesc&, const LinearAttentionDesc&) = default;
};

std::span<const ParamSpec> linear_attention_params();
// "linear_attention:n=1,h=56,w=56,c=96,heads=3,feature_map=elu1,local_kernel=0,qkv_bias=1"
std::string to_string(const LinearAttentionDesc& desc);
LinearAttentionDesc linear_attention_desc_from(const Params& params);  // calls check()
// Throws InvalidArgument naming the field, its value, the rule and the key: sizes < 1, heads not
// dividing c, local_kernel neither 0 nor odd in 3..13.
void check(const LinearAttentionDesc& desc);
// FLOPs: qkv 2*N*c*3c + proj 2*N*c*c + per head 2*N*d*d (KV) + 2*N*d*d (phi(q)^T KV), N = n*h*w
// (the z sums, the denominators, phi and the division are not counted), + 2*N*c*k*k for the DWC.
// bytes: src + dst + weights, f32, each once.
OpCost cost(const LinearAttentionDesc& desc);
std::vector<WeightSpec> weight_specs(const LinearAttentionDesc& desc);

class LinearAttentionPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights (check_weights), creates the LinearPlans and the Conv2dPlan,
  // allocates every buffer (per-thread partial sums included). Throws InvalidArgument or
  // Unsupported.
  static LinearAttentionPlan create(const Engine& engine, const LinearAttentionDesc& desc,
                                    const MixerWeights& weights);

  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  LinearAttentionPlan(LinearAttentionPlan&&) noexcept;
  LinearAttentionPlan& operator=(LinearAttentionPlan&&) noexcept;
  ~LinearAttentionPlan() override;

 private:
  struct State;
  explicit LinearAttentionPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
