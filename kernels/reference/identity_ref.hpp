#pragma once

#include "kernels/mixers/identity.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// IdentityFormer's mixer: value = src, magnitude = |src| (the pass-through term).
RefOutput identity(const IdentityDesc& desc, const ConstTensorView& src,
                   const MixerWeights& weights);

}  // namespace hwnas::reference
