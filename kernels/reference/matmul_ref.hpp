#pragma once

#include "kernels/ops/matmul.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// matmul in float64 from the definition. src and weights are f32 views of any strides whose leading
// axes flatten to b (row-major), as MatmulPlan accepts; weights are [.., k, n], or [.., n, k] when
// trans_b. Returns [b, m, n] with magnitude = |scale| * sum |src * weights|.
RefOutput matmul(const MatmulDesc& desc, const ConstTensorView& src,
                 const ConstTensorView& weights);

}  // namespace hwnas::reference
