#pragma once

#include "kernels/mixers/channel_attention.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// DaViT's channel attention in float64 from the definition (channel_attention.hpp): src NHWC
// [n, h, w, c], weights by name (any strides). magnitude = sum_i |proj.weight[o, i] * a[i]| +
// |proj.bias[o]|, a = the concatenated head outputs.
RefOutput channel_attention(const ChannelAttentionDesc& desc, const ConstTensorView& src,
                            const MixerWeights& weights);

}  // namespace hwnas::reference
