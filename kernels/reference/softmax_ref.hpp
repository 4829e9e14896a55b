#pragma once

#include "kernels/ops/softmax.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// softmax in float64 from the definition (row maximum subtracted, as the op does; in exact
// arithmetic it cancels). magnitude = value (every term is positive).
RefOutput softmax(const SoftmaxDesc& desc, const ConstTensorView& src);

}  // namespace hwnas::reference
