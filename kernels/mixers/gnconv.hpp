// gnconv: HorNet's recursive gated convolution g^n Conv (Rao et al., NeurIPS 2022;
// raoyongming/HorNet hornet.py gnconv with the depthwise-conv branch, gflayer=None, and the scale
// s = 1/3 that every HorNet model passes):
//
//   dims = [c / 2^(order-1-i) for i in 0..order-1]                 (c/2^(order-1), ..., c/2, c)
//   pwa, abc = split(x . proj_in.weight^T + proj_in.bias, (dims[0], sum(dims)))   (2c channels)
//   dw = (dwconv_kxk(abc) + dwconv.bias) * s                       depthwise, 'same' padding k/2
//   dw_0, ..., dw_{order-1} = split(dw, dims)
//   p_0 = pwa * dw_0;  p_{i+1} = (p_i . pws.{i}.weight^T + pws.{i}.bias) * dw_{i+1}
//   y = p_{order-1} . proj_out.weight^T + proj_out.bias
//
// Weights (HorNet's names; every 1x1 conv [out, in, 1, 1] viewed as a matrix [out, in]):
//   proj_in.weight [2c, c], proj_in.bias [2c]
//   dwconv.weight [sum(dims), 1, k, k], dwconv.bias [sum(dims)]
//   pws.{i}.weight [dims[i+1], dims[i]], pws.{i}.bias [dims[i+1]]   for i in 0..order-2
//   proj_out.weight [c, c], proj_out.bias [c]
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

struct GnconvDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t order = 3;   // 2..5; c divisible by 2^(order-1)
  std::int64_t kernel = 7;  // depthwise kernel, odd
  friend bool operator==(const GnconvDesc&, const GnconvDesc&) = default;
};

// HorNet's s: the depthwise output is scaled by 1/3 in every released model.
inline constexpr double kGnconvScale = 1.0 / 3.0;

std::span<const ParamSpec> gnconv_params();
// "gnconv:n=1,h=56,w=56,c=96,order=3,kernel=7"
std::string to_string(const GnconvDesc& desc);
GnconvDesc gnconv_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, order outside 2..5, c
// not divisible by 2^(order-1), an even kernel.
void check(const GnconvDesc& desc);
// dims[i] = c / 2^(order-1-i), i in 0..order-1.
std::vector<std::int64_t> gnconv_dims(const GnconvDesc& desc);
// FLOPs: proj_in 2*T*c*2c + depthwise 2*T*sum(dims)*k^2 + pws sum_i 2*T*dims[i]*dims[i+1] +
// proj_out 2*T*c*c, T = n*h*w; the gating products and the scale are not counted. bytes: src +
// dst + weights, f32, each once.
OpCost cost(const GnconvDesc& desc);
std::vector<WeightSpec> weight_specs(const GnconvDesc& desc);

class GnconvPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights (check_weights), folds s into the depthwise weights and bias,
  // creates the linear and depthwise plans and the scratch buffers. Throws InvalidArgument or
  // Unsupported.
  static GnconvPlan create(const Engine& engine, const GnconvDesc& desc,
                           const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  GnconvPlan(GnconvPlan&&) noexcept;
  GnconvPlan& operator=(GnconvPlan&&) noexcept;
  ~GnconvPlan() override;

 private:
  struct State;
  explicit GnconvPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
