#pragma once

#include "kernels/mixers/mixer.hpp"
#include "kernels/mixers/pool_mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// PoolFormer's pooling mixer from the definition (pool_mixer.hpp): the average of the input pixels
// inside the pool x pool window (count_include_pad=False), minus the pixel itself.
// magnitude = sum |x_i| / count + |x|.
RefOutput pool_mixer(const PoolMixerDesc& desc, const ConstTensorView& src,
                     const MixerWeights& weights);

}  // namespace hwnas::reference
