#pragma once

#include "kernels/ops/permute.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// permute from the definition: dst[i_0, .., i_r-1] = src[j] with j[order[a]] = i_a, for src of any
// strides. Returns the permuted shape; magnitude is 0 (an exact op: compare bitwise).
RefOutput permute(const PermuteDesc& desc, const ConstTensorView& src);

}  // namespace hwnas::reference
