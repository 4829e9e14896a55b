#pragma once

#include "kernels/mixers/mhsa.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// mhsa in float64 from the definitions in mhsa.hpp: src [n, h, w, c] -> [n, h, w, c]; magnitude =
// sum_i |proj.weight[o, i] * a[i]| + |proj.bias[o]|. Weights are read through their strides.
RefOutput mhsa(const MhsaDesc& desc, const ConstTensorView& src, const MixerWeights& weights);

}  // namespace hwnas::reference
