#include "kernels/reference/stem_ref.hpp"

#include "kernels/reference/layer_ref_util.hpp"

namespace hwnas::reference {

RefOutput patch_embed(const PatchEmbedDesc& d, const ConstTensorView& src,
                      const MixerWeights& weights) {
  const std::string key = to_string(d);
  DoubleMap y = conv(to_double(src), weights.get("proj.weight", key), weights.get("proj.bias", key),
                     d.patch, d.patch, 0);
  if (d.norm)
    layer_norm(y, weights.get("norm.weight", key), weights.get("norm.bias", key), kPatchEmbedEps);
  return {dst_shape(d), std::move(y.value), std::move(y.magnitude)};
}

RefOutput conv_stem(const ConvStemDesc& d, const ConstTensorView& src,
                    const MixerWeights& weights) {
  const std::string key = to_string(d);
  const DoubleMap mid = conv(to_double(src), weights.get("conv1.weight", key),
                             weights.get("conv1.bias", key), 3, 2, 1, d.act);
  DoubleMap y =
      conv(mid, weights.get("conv2.weight", key), weights.get("conv2.bias", key), 3, 2, 1);
  return {dst_shape(d), std::move(y.value), std::move(y.magnitude)};
}

}  // namespace hwnas::reference
