#pragma once

#include "kernels/layers/conv_downsample.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// conv_downsample in float64 (conv_downsample.hpp). magnitude: the conv's sum |w*x| + |bias|
// (norm=pre/none), or the LayerNorm-carried bound of layer_ref_util.hpp (norm=post).
RefOutput conv_downsample(const ConvDownsampleDesc& desc, const ConstTensorView& src,
                          const MixerWeights& weights);

}  // namespace hwnas::reference
