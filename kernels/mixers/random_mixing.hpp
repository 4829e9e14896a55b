// random_mixing: RandFormer's token mixer (Yu et al., "MetaFormer Baselines for Vision", TPAMI
// 2023; official metaformer.py RandomMixing): a fixed random N x N matrix, N = h*w tokens, mixes
// the tokens of each channel:
//
//   dst[b, m, ch] = sum_j W[m, j] * src[b, j, ch]      (tokens m, j in row-major (y, x) order)
//
// The official module draws W = softmax(rand(N, N), dim=-1) once and freezes it
// (requires_grad=False); the weight here is that stored matrix, applied as given (the reference
// does not softmax it). Because N = h*w, the weight's shape depends on the input size: RandFormer
// uses it in stages 3-4 only.
//
// Weights: random_matrix [N, N]. FLOPs 2*n*N*N*c; bytes src + dst + W, f32, each once; params 0
// (W is frozen, not learnable).
//
// Layouts: src and dst NHWC [n, h, w, c], contiguous; per sample one oneDNN matmul W . x[b].
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

struct RandomMixingDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  friend bool operator==(const RandomMixingDesc&, const RandomMixingDesc&) = default;
};

std::span<const ParamSpec> random_mixing_params();
// "random_mixing:n=1,h=56,w=56,c=96"
std::string to_string(const RandomMixingDesc& desc);
RandomMixingDesc random_mixing_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1.
void check(const RandomMixingDesc& desc);
OpCost cost(const RandomMixingDesc& desc);
std::vector<WeightSpec> weight_specs(const RandomMixingDesc& desc);

class RandomMixingPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights, copies W and creates the matmul plan. Throws InvalidArgument
  // or Unsupported.
  static RandomMixingPlan create(const Engine& engine, const RandomMixingDesc& desc,
                                 const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  RandomMixingPlan(RandomMixingPlan&&) noexcept;
  RandomMixingPlan& operator=(RandomMixingPlan&&) noexcept;
  ~RandomMixingPlan() override;

 private:
  struct State;
  explicit RandomMixingPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
