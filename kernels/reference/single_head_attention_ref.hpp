#pragma once

#include "kernels/mixers/mixer.hpp"
#include "kernels/mixers/single_head_attention.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// SHViT's SHSA in float64 straight from the definition (single_head_attention.hpp): src NHWC
// [n, h, w, c], weights by name (any strides). magnitude = sum_i |proj.weight[o, i] * a[i]| +
// |proj.bias[o]|, a = ReLU(cat(attention out, x2)).
RefOutput single_head_attention(const SingleHeadAttentionDesc& desc, const ConstTensorView& src,
                                const MixerWeights& weights);

}  // namespace hwnas::reference
