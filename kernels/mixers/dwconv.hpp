// dwconv: ConvNeXt's token mixer (Liu et al., "A ConvNet for the 2020s", CVPR 2022; official
// convnext.py Block.dwconv = nn.Conv2d(c, c, 7, padding=3, groups=c)), a depthwise k x k conv with
// 'same' padding, optionally dilated (large-kernel and DiNAT-style designs):
//
//   dst[b, y, x, ch] = bias[ch] + sum_{ky, kx} w[ch, 0, ky, kx] * src[b, y + d*(ky - k/2),
//                                                                     x + d*(kx - k/2), ch]
//
// taps outside the map read 0 (padding d*(k-1)/2 on every side). k odd, 1..31.
//
// Weights (PyTorch names and layouts): dwconv.weight [c, 1, k, k], dwconv.bias [c] (bias=1).
// FLOPs 2*n*h*w*c*k*k (padding taps included, as conv cost models count them); bytes src + dst +
// weights, f32, each once; params c*k*k (+ c).
//
// backend picks the implementation as Conv2dPlan does (auto = the faster per shape, kernels/ops/
// conv2d.hpp; onednn / hand force one), so the two can be compared under the mixer's own name; it
// is part of the key but not of the computation.
//
// Layouts: src and dst NHWC [n, h, w, c], contiguous.
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
#include "kernels/ops/conv2d.hpp"
#include "kernels/params.hpp"

namespace hwnas {

struct DwconvMixerDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t k = 7;         // odd
  std::int64_t dilation = 1;  // 1 = dense
  Bias bias = Bias::Add;
  ConvBackend backend = ConvBackend::Auto;
  friend bool operator==(const DwconvMixerDesc&, const DwconvMixerDesc&) = default;
};

std::span<const ParamSpec> dwconv_mixer_params();
// "dwconv:n=1,h=56,w=56,c=96,k=7,dilation=1,bias=1,backend=auto"
std::string to_string(const DwconvMixerDesc& desc);
DwconvMixerDesc dwconv_mixer_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, an even or out-of-range
// k, dilation < 1.
void check(const DwconvMixerDesc& desc);
OpCost cost(const DwconvMixerDesc& desc);
std::vector<WeightSpec> weight_specs(const DwconvMixerDesc& desc);
// The depthwise Conv2dDesc the mixer runs (groups = c, 'same' padding).
Conv2dDesc conv2d_desc_of(const DwconvMixerDesc& desc);

class DwconvMixerPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights, creates the conv plan (weights reordered there). Throws
  // InvalidArgument, or Unsupported when a forced backend cannot run the desc.
  static DwconvMixerPlan create(const Engine& engine, const DwconvMixerDesc& desc,
                                const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

 private:
  explicit DwconvMixerPlan(Conv2dPlan conv) : conv_(std::move(conv)) {}
  Conv2dPlan conv_;
};

}  // namespace hwnas
