// focal_modulation: FocalNet's focal modulation (Yang et al., NeurIPS 2022; microsoft/FocalNet
// classification/focalnet.py FocalModulation with normalize_modulator=False and
// use_postln_in_modulation=False, the FocalNet-T/S/B settings):
//
//   q, ctx_0, gates = split(x . f.weight^T + f.bias, (c, c, L+1))       L = focal_level
//   for l in 0..L-1:  ctx_{l+1} = GELU(dwconv_l(ctx_l))                  kernel k_l =
//   focal_factor*l
//                     ctx_all  += ctx_{l+1} * gates[l]                      + focal_window, 'same'
//                                                                          padding k_l/2, no bias
//   ctx_global = GELU(mean over h, w of ctx_L)                            (per sample and channel)
//   ctx_all   += ctx_global * gates[L]
//   modulator  = ctx_all . h.weight^T + h.bias                            (a 1x1 conv c -> c)
//   y = (q * modulator) . proj.weight^T + proj.bias
//
// GELU is the exact erf form (nn.GELU()). The kernels k_l must be odd for 'same' padding, so
// focal_window is odd and focal_factor even.
//
// Weights (FocalNet's names; nn.Linear layout [out, in], Conv2d OIHW):
//   f.weight [2c+L+1, c], f.bias [2c+L+1]
//   focal_layers.{l}.0.weight [c, 1, k_l, k_l]  (depthwise, no bias)
//   h.weight [c, c], h.bias [c]                 (the 1x1 conv's [c, c, 1, 1] viewed as a matrix)
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

struct FocalModulationDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t focal_level = 2;   // L, 1..4
  std::int64_t focal_window = 3;  // kernel of level 0, odd
  std::int64_t focal_factor = 2;  // kernel growth per level, even
  friend bool operator==(const FocalModulationDesc&, const FocalModulationDesc&) = default;
};

std::span<const ParamSpec> focal_modulation_params();
// "focal_modulation:n=1,h=56,w=56,c=96,focal_level=2,focal_window=3,focal_factor=2"
std::string to_string(const FocalModulationDesc& desc);
FocalModulationDesc focal_modulation_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, focal_level outside
// 1..4, an even focal_window, an odd or negative focal_factor.
void check(const FocalModulationDesc& desc);
// The kernel size of level l: focal_factor * l + focal_window.
std::int64_t focal_kernel(const FocalModulationDesc& desc, std::int64_t level);
// FLOPs: f 2*T*c*(2c+L+1) + depthwise sum_l 2*T*c*k_l^2 + h 2*T*c*c + proj 2*T*c*c, T = n*h*w (the
// linear layers and convs, as fvcore counts them); the gating multiply-adds, q * modulator, GELU
// and the global mean are not counted. bytes: src + dst + weights, f32, each once.
OpCost cost(const FocalModulationDesc& desc);
std::vector<WeightSpec> weight_specs(const FocalModulationDesc& desc);

class FocalModulationPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights (check_weights), creates the linear and depthwise plans and the
  // scratch buffers. Throws InvalidArgument or Unsupported.
  static FocalModulationPlan create(const Engine& engine, const FocalModulationDesc& desc,
                                    const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  FocalModulationPlan(FocalModulationPlan&&) noexcept;
  FocalModulationPlan& operator=(FocalModulationPlan&&) noexcept;
  ~FocalModulationPlan() override;

 private:
  struct State;
  explicit FocalModulationPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
