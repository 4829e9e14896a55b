#pragma once

#include "kernels/mixers/dwconv.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// ConvNeXt's depthwise conv mixer from the definition (dwconv.hpp). magnitude = sum over the taps
// inside the map of |w*x|, + |bias|.
RefOutput dwconv(const DwconvMixerDesc& desc, const ConstTensorView& src,
                 const MixerWeights& weights);

// The depthwise conv of one channel slice, shared with the mixers built of several (InceptionNeXt):
// dst channels [dst_c0, dst_c0 + channels) of `out` from src channels [src_c0, ...) of src
// ([n, h, w, c]); weight [channels, 1, kh, kw] and bias [channels] (empty: none); padding
// dilation*(k-1)/2 per axis.
void depthwise_same(const ConstTensorView& src, std::int64_t src_c0, std::int64_t channels,
                    const ConstTensorView& weight, const ConstTensorView& bias,
                    std::int64_t dilation, RefOutput& out, std::int64_t dst_c0);

}  // namespace hwnas::reference
