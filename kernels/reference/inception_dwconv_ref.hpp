#pragma once

#include "kernels/mixers/inception_dwconv.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// InceptionNeXt's inception depthwise conv from the definition (inception_dwconv.hpp): identity
// channels first (magnitude |x|), then the square, 1 x k and k x 1 branches (magnitude
// sum |w*x| + |bias|).
RefOutput inception_dwconv(const InceptionDwconvDesc& desc, const ConstTensorView& src,
                           const MixerWeights& weights);

}  // namespace hwnas::reference
