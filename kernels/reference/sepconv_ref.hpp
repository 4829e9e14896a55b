#pragma once

#include "kernels/mixers/mixer.hpp"
#include "kernels/mixers/sepconv.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// ConvFormer's SepConv in float64 from the definition (sepconv.hpp): src NHWC [n, h, w, c],
// weights by name (any strides). magnitude = sum_j |pwconv2.weight[o, j] * d[j]|, d = the
// depthwise conv's output.
RefOutput sepconv(const SepconvDesc& desc, const ConstTensorView& src, const MixerWeights& weights);

}  // namespace hwnas::reference
