// conv_downsample: a strided conv between stages, with a LayerNorm over channels before or after.
//
//   norm=pre   y = Conv(LayerNorm(x))     ConvNeXt's downsample_layers: LayerNorm(eps 1e-6,
//                                         channels_first), then Conv2d(c, out_c, 2, stride 2)
//   norm=post  y = LayerNorm(Conv(x))     PVTv2's OverlapPatchEmbed: Conv2d(c, out_c, 3, stride 2,
//                                         pad 1), then nn.LayerNorm(out_c) (eps 1e-5)
//   norm=none  y = Conv(x)
// kernel 2: stride 2, pad 0, out = floor(h/2) (PyTorch's floor: an odd last row/column is dropped,
// h, w >= 2 required); kernel 3: stride 2, pad 1, out = floor((h - 1)/2) + 1 = ceil(h/2).
//
// src [n, h, w, c] -> dst [n, oh, ow, out_c], NHWC contiguous; out_c = 0 in params means 2c.
// Weights (PVTv2 / Swin PatchEmbed names; ConvNeXt's Sequential calls them 0 / 1):
//   norm.weight, norm.bias [c] (pre) or [out_c] (post); proj.weight [out_c, c, k, k], proj.bias
//   [out_c]
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/layers/layer.hpp"

namespace hwnas {

enum class NormPlace { Pre, Post, None };
std::string_view to_string(NormPlace place);  // "pre", "post", "none"

struct ConvDownsampleDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t kernel = 2;  // 2 or 3
  NormPlace norm = NormPlace::Pre;
  std::int64_t out_c = 192;
  friend bool operator==(const ConvDownsampleDesc&, const ConvDownsampleDesc&) = default;
};

inline constexpr double kConvDownsamplePreEps = 1e-6;   // ConvNeXt
inline constexpr double kConvDownsamplePostEps = 1e-5;  // PVTv2 (nn.LayerNorm's default)

std::span<const ParamSpec> conv_downsample_params();  // n, h, w, c, kernel, norm, out_c
// "conv_downsample:n=1,h=56,w=56,c=96,kernel=2,norm=pre,out_c=192" (out_c resolved)
std::string to_string(const ConvDownsampleDesc& desc);
ConvDownsampleDesc conv_downsample_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field: sizes < 1, kernel not 2 or 3, h or w < 2 with kernel 2.
void check(const ConvDownsampleDesc& desc);
// FLOPs: 2 * n*oh*ow*out_c * c*k*k (+ bias not counted); LayerNorm not counted. bytes: src + dst +
// weights.
OpCost cost(const ConvDownsampleDesc& desc);
std::vector<WeightSpec> weight_specs(const ConvDownsampleDesc& desc);
Shape src_shape(const ConvDownsampleDesc& desc);
Shape dst_shape(const ConvDownsampleDesc& desc);

class ConvDownsamplePlan final : public LayerPlan {
 public:
  static ConvDownsamplePlan create(const Engine& engine, const ConvDownsampleDesc& desc,
                                   const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  ConvDownsamplePlan(ConvDownsamplePlan&&) noexcept;
  ConvDownsamplePlan& operator=(ConvDownsamplePlan&&) noexcept;
  ~ConvDownsamplePlan() override;

 private:
  struct State;
  explicit ConvDownsamplePlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

LayerEntry conv_downsample_layer_entry();

}  // namespace hwnas
