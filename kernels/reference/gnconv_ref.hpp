#pragma once

#include "kernels/mixers/gnconv.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// HorNet's gnConv in float64 from the definition (gnconv.hpp): src NHWC [n, h, w, c], weights by
// name (any strides). magnitude = sum_i |proj_out.weight[o, i] * p[i]| + |proj_out.bias[o]|, p =
// the last gated product.
RefOutput gnconv(const GnconvDesc& desc, const ConstTensorView& src, const MixerWeights& weights);

}  // namespace hwnas::reference
