#pragma once

#include "kernels/mixers/linear_attention.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// linear_attention in float64 from the definition (linear_attention.hpp): qkv, phi, the KV and z
// sums per batch and head, (phi(q)^T KV) / (phi(q)^T z + eps), the optional depthwise conv on v,
// proj. src [n, h, w, c] f32 of any strides; weights as weight_specs(desc). Returns [n, h, w, c];
// magnitude is proj's sum |w*a| + |b|.
RefOutput linear_attention(const LinearAttentionDesc& desc, const ConstTensorView& src,
                           const MixerWeights& weights);

}  // namespace hwnas::reference
