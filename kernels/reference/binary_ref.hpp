#pragma once

#include "kernels/ops/binary.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// binary in float64 from the definition, src1 indexed with numpy broadcasting; src0 [n,h,w,c], src1
// of binary_src1_shape(desc). magnitude = |value|.
RefOutput binary(const BinaryDesc& desc, const ConstTensorView& src0, const ConstTensorView& src1);

}  // namespace hwnas::reference
