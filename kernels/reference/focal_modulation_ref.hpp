#pragma once

#include "kernels/mixers/focal_modulation.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// FocalNet's focal modulation in float64 from the definition (focal_modulation.hpp): src NHWC
// [n, h, w, c], weights by name (any strides). magnitude = sum_i |proj.weight[o, i] * x_out[i]| +
// |proj.bias[o]|, x_out = q * modulator.
RefOutput focal_modulation(const FocalModulationDesc& desc, const ConstTensorView& src,
                           const MixerWeights& weights);

}  // namespace hwnas::reference
