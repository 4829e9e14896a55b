// sepconv: the token mixer of ConvFormer and of CAFormer's conv stages (Yu et al., "MetaFormer
// Baselines for Vision", TPAMI 2024; sail-sg/metaformer metaformer_baselines.py SepConv = timm
// metaformer.SepConv with its defaults: bias=False, act1 = StarReLU, act2 = Identity), an inverted
// separable convolution:
//
//   med = int(expansion_ratio * c)                       (Python's int(): truncation)
//   a   = x . pwconv1.weight^T                           [n, h, w, med], no bias
//   s   = act1.scale * relu(a)^2 + act1.bias             StarReLU, learnable scalars
//   d   = dwconv_kxk(s)                                  depthwise, padding k/2, zeros outside the
//                                                        map (after the activation), no bias
//   y   = d . pwconv2.weight^T                           [n, h, w, c], no bias
//
// Weights (timm's names; Linear [out, in], Conv2d OIHW):
//   pwconv1.weight [med, c], act1.scale [1], act1.bias [1], dwconv.weight [med, 1, k, k],
//   pwconv2.weight [c, med]
//
// Cost: FLOPs 2*T*(c*med + med*k^2 + med*c), T = n*h*w (padding taps counted, as conv cost models
// do; the activation is not counted, as in the MLPs); bytes src + dst + weights, f32, each once;
// params 2*c*med + med*k^2 + 2.
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

struct SepconvDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 64;
  double expansion_ratio = 2.0;  // med = int(expansion_ratio * c) >= 1
  std::int64_t kernel = 7;       // odd, <= 31
  friend bool operator==(const SepconvDesc&, const SepconvDesc&) = default;
};

std::span<const ParamSpec> sepconv_params();
// "sepconv:n=1,h=56,w=56,c=64,expansion_ratio=2,kernel=7"
std::string to_string(const SepconvDesc& desc);
SepconvDesc sepconv_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, expansion_ratio not
// finite or giving med < 1, an even kernel or one > 31.
void check(const SepconvDesc& desc);
std::int64_t sepconv_med(const SepconvDesc& desc);  // int(expansion_ratio * c)
OpCost cost(const SepconvDesc& desc);
std::vector<WeightSpec> weight_specs(const SepconvDesc& desc);

class SepconvPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights (check_weights), creates the two linear plans, the StarReLU
  // pass and the depthwise conv plan, and the [n, h, w, med] buffers. Throws InvalidArgument (also
  // for a non-finite act1.scale or act1.bias) or Unsupported.
  static SepconvPlan create(const Engine& engine, const SepconvDesc& desc,
                            const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  SepconvPlan(SepconvPlan&&) noexcept;
  SepconvPlan& operator=(SepconvPlan&&) noexcept;
  ~SepconvPlan() override;

 private:
  struct State;
  explicit SepconvPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
