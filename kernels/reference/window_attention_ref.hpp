#pragma once

#include "kernels/mixers/window_attention.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// Whether the reference adds Swin's shift mask. Omit exists only so a test can show that leaving
// the mask out changes the output by far more than the tolerance (so a mask bug cannot pass).
enum class ShiftMask { Apply, Omit };

// window_attention in float64, step by step as torchvision's shifted_window_attention: explicit
// zero padding, qkv linear on every padded token, roll, window partition, attention with relative
// position bias and mask, merge, roll back, crop, proj. src [n, h, w, c]; weights by their
// torchvision names, any strides. Magnitude: sum_i |proj.w[o,i] * a[i]| + |proj.b[o]|.
RefOutput window_attention(const WindowAttentionDesc& desc, const ConstTensorView& src,
                           const MixerWeights& weights, ShiftMask mask = ShiftMask::Apply);

}  // namespace hwnas::reference
