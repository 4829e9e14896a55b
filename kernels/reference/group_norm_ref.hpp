#pragma once

#include "kernels/ops/group_norm.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// group_norm in float64 from the definition, mean and variance of each (image, group) in two
// passes; src [n, h, w, c] (any strides), gamma and beta [c] or empty as desc.affine says. Returns
// [n, h, w, c] with magnitude = |gamma * xhat| + |beta|.
RefOutput group_norm(const GroupNormDesc& desc, const ConstTensorView& src,
                     const ConstTensorView& gamma, const ConstTensorView& beta);

}  // namespace hwnas::reference
