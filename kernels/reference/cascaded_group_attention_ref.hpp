#pragma once

#include "kernels/mixers/cascaded_group_attention.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// EfficientViT's LocalWindowAttention + CascadedGroupAttention in float64 from the definition
// (cascaded_group_attention.hpp): src NHWC [n, h, w, c], weights by name (any strides).
// magnitude = sum_i |proj.weight[o, i] * a[i]| + |proj.bias[o]|, a = ReLU(cat(head outputs)).
RefOutput cascaded_group_attention(const CascadedGroupAttentionDesc& desc,
                                   const ConstTensorView& src, const MixerWeights& weights);

// The same without the cascade (head i sees only its own chunk): for tests that show the cascade
// matters.
RefOutput cascaded_group_attention_without_cascade(const CascadedGroupAttentionDesc& desc,
                                                   const ConstTensorView& src,
                                                   const MixerWeights& weights);

}  // namespace hwnas::reference
