#pragma once

#include "kernels/ops/global_avg_pool.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// global_avg_pool in float64 from the definition: src [n, h, w, c] -> [n, c]. magnitude = mean |x|.
RefOutput global_avg_pool(const GlobalAvgPoolDesc& desc, const ConstTensorView& src);

}  // namespace hwnas::reference
