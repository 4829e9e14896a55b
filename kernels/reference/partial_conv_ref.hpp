#pragma once

#include "kernels/mixers/mixer.hpp"
#include "kernels/mixers/partial_conv.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// FasterNet's PConv from the definition (partial_conv.hpp). magnitude = sum |w*x| over the taps
// inside the map for the conv channels, |x| for the pass-through ones.
RefOutput partial_conv(const PartialConvDesc& desc, const ConstTensorView& src,
                       const MixerWeights& weights);

}  // namespace hwnas::reference
