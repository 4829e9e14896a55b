#pragma once

#include "kernels/ops/linear.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// linear in float64 from the definition; src [.., k], weights [n, k], bias [n] or empty.
RefOutput linear(const LinearDesc& desc, const ConstTensorView& src, const ConstTensorView& weights,
                 const ConstTensorView& bias);

}  // namespace hwnas::reference
