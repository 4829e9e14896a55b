#pragma once

#include "kernels/mixers/mixer.hpp"
#include "kernels/mixers/random_mixing.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// RandFormer's random mixing from the definition (random_mixing.hpp): the stored matrix applied
// over tokens as given. magnitude = sum_j |W[m, j] * x[j]|.
RefOutput random_mixing(const RandomMixingDesc& desc, const ConstTensorView& src,
                        const MixerWeights& weights);

}  // namespace hwnas::reference
