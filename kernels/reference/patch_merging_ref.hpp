#pragma once

#include "kernels/layers/patch_merging.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// torchvision's PatchMerging in float64 (patch_merging.hpp). magnitude = sum_i
// |reduction.weight[o, i] * a[i]|, a = LayerNorm(gathered).
RefOutput patch_merging(const PatchMergingDesc& desc, const ConstTensorView& src,
                        const MixerWeights& weights);

}  // namespace hwnas::reference
