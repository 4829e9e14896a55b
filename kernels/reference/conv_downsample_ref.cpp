#include "kernels/reference/conv_downsample_ref.hpp"

#include "kernels/reference/layer_ref_util.hpp"

namespace hwnas::reference {

RefOutput conv_downsample(const ConvDownsampleDesc& d, const ConstTensorView& src,
                          const MixerWeights& weights) {
  const std::string key = to_string(d);
  DoubleMap x = to_double(src);
  if (d.norm == NormPlace::Pre) {
    layer_norm(x, weights.get("norm.weight", key), weights.get("norm.bias", key),
               kConvDownsamplePreEps);
  }
  DoubleMap y = conv(x, weights.get("proj.weight", key), weights.get("proj.bias", key), d.kernel, 2,
                     d.kernel == 3 ? 1 : 0);
  if (d.norm == NormPlace::Post) {
    layer_norm(y, weights.get("norm.weight", key), weights.get("norm.bias", key),
               kConvDownsamplePostEps);
  }
  return {dst_shape(d), std::move(y.value), std::move(y.magnitude)};
}

}  // namespace hwnas::reference
