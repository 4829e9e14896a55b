#pragma once

#include "kernels/mixers/mixer.hpp"
#include "kernels/mixers/neighborhood_attention.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// neighborhood_attention in float64 from the definition (neighborhood_attention.hpp), one query
// pixel at a time with its window spelled out: src [n, h, w, c] and the weights are f32 views of
// any strides. Returns [n, h, w, c]; magnitude is that of proj, sum_i |proj.weight[o, i] * a[i]| +
// |proj.bias[o]|.
RefOutput neighborhood_attention(const NeighborhoodAttentionDesc& desc, const ConstTensorView& src,
                                 const MixerWeights& weights);

}  // namespace hwnas::reference
