#pragma once

#include "kernels/ops/pool.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// pool in float64 from the definition: src [n, h, w, c] -> [n, oh, ow, c]. magnitude = |value| for
// max; for avg the mean of |x| over the window (what the sum's rounding error scales with).
RefOutput pool(const PoolDesc& desc, const ConstTensorView& src);

}  // namespace hwnas::reference
