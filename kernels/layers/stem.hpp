// The stems: patch_embed and conv_stem (one file: they share the image parameters and the
// conv-then-norm shape of a stem).
//
// patch_embed: the patchify stem (Swin / ViT PatchEmbed): a conv with kernel = stride = patch, then
// an optional LayerNorm over channels.
//
//   y = LayerNorm(c)(Conv2d(in_c, c, patch, stride patch)(x))     norm=ln (eps 1e-5, Swin)
//   y = Conv2d(in_c, c, patch, stride patch)(x)                   norm=none
//
// src [n, h, w, in_c] (the image, NHWC) -> dst [n, floor(h/patch), floor(w/patch), c]: PyTorch's
// floor rule, as timm's PatchEmbed with strict_img_size=False and no dynamic padding (Swin's own
// PatchEmbed pads right/bottom instead; the backbones we model feed multiples of the patch).
// h, w >= patch required.
//
// Weights (Swin's PatchEmbed names): proj.weight [c, in_c, patch, patch], proj.bias [c],
// norm.weight [c], norm.bias [c] (norm=ln).
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/layers/layer.hpp"

namespace hwnas {

struct PatchEmbedDesc {
  std::int64_t n = 1, h = 224, w = 224, in_c = 3, c = 96;
  std::int64_t patch = 4;
  bool norm = true;  // LayerNorm after the conv ("norm=ln")
  friend bool operator==(const PatchEmbedDesc&, const PatchEmbedDesc&) = default;
};

inline constexpr double kPatchEmbedEps = 1e-5;

// n, h, w, in_c, c, patch, norm (the stems' image parameters; h, w default 224).
std::span<const ParamSpec> patch_embed_params();
// "patch_embed:n=1,h=224,w=224,in_c=3,c=96,patch=4,norm=ln"
std::string to_string(const PatchEmbedDesc& desc);
PatchEmbedDesc patch_embed_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field: sizes < 1, patch < 1, h or w < patch.
void check(const PatchEmbedDesc& desc);
// FLOPs: 2 * n*oh*ow*c * in_c*patch^2; LayerNorm not counted. bytes: src + dst + weights.
OpCost cost(const PatchEmbedDesc& desc);
std::vector<WeightSpec> weight_specs(const PatchEmbedDesc& desc);
Shape src_shape(const PatchEmbedDesc& desc);  // [n, h, w, in_c]
Shape dst_shape(const PatchEmbedDesc& desc);  // [n, h/patch, w/patch, c]

class PatchEmbedPlan final : public LayerPlan {
 public:
  static PatchEmbedPlan create(const Engine& engine, const PatchEmbedDesc& desc,
                               const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  PatchEmbedPlan(PatchEmbedPlan&&) noexcept;
  PatchEmbedPlan& operator=(PatchEmbedPlan&&) noexcept;
  ~PatchEmbedPlan() override;

 private:
  struct State;
  explicit PatchEmbedPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

LayerEntry patch_embed_layer_entry();

// conv_stem: two 3x3 stride-2 convs (pad 1) with BatchNorm folded into each (conv + bias) and an
// activation between, as the convolutional stems of EfficientViT / ConvNeXt-style hybrids:
//   y = conv2(act(conv1(x))),  conv1: in_c -> c/2, conv2: c/2 -> c
// src [n, h, w, in_c] -> dst [n, ceil(ceil(h/2)/2), ceil(ceil(w/2)/2), c] (PyTorch's floor rule
// with pad 1: floor((h - 1)/2) + 1 per conv). c must be even and >= 2. act: gelu_erf, relu,
// hardswish.
// Weights (BN folded): conv1.weight [c/2, in_c, 3, 3], conv1.bias [c/2], conv2.weight
// [c, c/2, 3, 3], conv2.bias [c].
struct ConvStemDesc {
  std::int64_t n = 1, h = 224, w = 224, in_c = 3, c = 96;
  Activation act = Activation::GeluErf;
  friend bool operator==(const ConvStemDesc&, const ConvStemDesc&) = default;
};

std::span<const ParamSpec> conv_stem_params();  // n, h, w, in_c, c, act
std::string to_string(
    const ConvStemDesc& desc);  // "conv_stem:n=1,h=224,w=224,in_c=3,c=96,act=gelu_erf"
ConvStemDesc conv_stem_desc_from(const Params& params);  // calls check
void check(const ConvStemDesc& desc);  // sizes < 1, c odd or < 2, act outside the three
// FLOPs: both convs' 2 * outputs * fan_in; the activation not counted.
OpCost cost(const ConvStemDesc& desc);
std::vector<WeightSpec> weight_specs(const ConvStemDesc& desc);
Shape src_shape(const ConvStemDesc& desc);
Shape dst_shape(const ConvStemDesc& desc);

class ConvStemPlan final : public LayerPlan {
 public:
  static ConvStemPlan create(const Engine& engine, const ConvStemDesc& desc,
                             const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  ConvStemPlan(ConvStemPlan&&) noexcept;
  ConvStemPlan& operator=(ConvStemPlan&&) noexcept;
  ~ConvStemPlan() override;

 private:
  struct State;
  explicit ConvStemPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

LayerEntry conv_stem_layer_entry();

}  // namespace hwnas
