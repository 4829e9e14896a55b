#pragma once

#include "kernels/ops/eltwise.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// eltwise in float64 from the definition (reference::activation), with StarReLU's f32 coefficients.
// magnitude: for star_relu |scale| * relu(x)^2 + |bias| (its products and sums, for Higham's
// bound); for the others |value|.
RefOutput eltwise(const EltwiseDesc& desc, const ConstTensorView& src,
                  const StarReluCoeffs& star = {});

}  // namespace hwnas::reference
