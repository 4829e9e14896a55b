#pragma once

#include "kernels/layers/stem.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// The stems in float64 (stem.hpp). patch_embed's magnitude: the conv's sum |w*x| + |bias|, or the
// LayerNorm-carried bound of layer_ref_util.hpp with norm=ln; conv_stem's: conv2's sum |w*a| +
// |bias|.
RefOutput patch_embed(const PatchEmbedDesc& desc, const ConstTensorView& src,
                      const MixerWeights& weights);
RefOutput conv_stem(const ConvStemDesc& desc, const ConstTensorView& src,
                    const MixerWeights& weights);

}  // namespace hwnas::reference
