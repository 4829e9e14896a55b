// partial_conv: FasterNet's partial convolution PConv (Chen et al., "Run, Don't Walk: Chasing
// Higher FLOPS for Faster Neural Networks", CVPR 2023; official fasternet.py Partial_conv3,
// forward_split_cat): a dense 3x3 conv (padding 1, no bias) on the first cp = c / n_div channels
// (integer division, as dim // n_div), the other c - cp channels passed through unchanged:
//
//   dst[..., :cp] = conv3x3(src[..., :cp]),   dst[..., cp:] = src[..., cp:]
//
// Weights (PyTorch name and layout): partial_conv3.weight [cp, cp, 3, 3].
// FLOPs 2*n*h*w*cp*cp*9; bytes src + dst + weights, f32, each once; params 9*cp^2.
//
// Layouts: src and dst NHWC [n, h, w, c], contiguous. The conv runs on a contiguous copy of the
// first cp channels (Conv2dPlan takes dense NHWC), and one pass writes its output and the
// pass-through channels into dst.
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

struct PartialConvDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t n_div = 4;  // the conv sees c / n_div channels
  friend bool operator==(const PartialConvDesc&, const PartialConvDesc&) = default;
};

std::span<const ParamSpec> partial_conv_params();
// "partial_conv:n=1,h=56,w=56,c=96,n_div=4"
std::string to_string(const PartialConvDesc& desc);
PartialConvDesc partial_conv_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, c / n_div < 1.
void check(const PartialConvDesc& desc);
OpCost cost(const PartialConvDesc& desc);
std::vector<WeightSpec> weight_specs(const PartialConvDesc& desc);
std::int64_t partial_conv_channels(const PartialConvDesc& desc);  // cp = c / n_div

class PartialConvPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights, creates the 3x3 conv plan (oneDNN, direct algorithm) and the
  // gather/conv-output buffers. Throws InvalidArgument or Unsupported.
  static PartialConvPlan create(const Engine& engine, const PartialConvDesc& desc,
                                const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  PartialConvPlan(PartialConvPlan&&) noexcept;
  PartialConvPlan& operator=(PartialConvPlan&&) noexcept;
  ~PartialConvPlan() override;

 private:
  struct State;
  explicit PartialConvPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
