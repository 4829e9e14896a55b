#pragma once

#include "kernels/ops/batch_norm.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// Inference batch norm in float64 from the definition, over the last axis of src (NHWC, any
// strides). Returns [n, h, w, c] with magnitude = (|src| + |mean|) * |gamma| / sqrt(var + eps) +
// |beta|, the sum of the absolute values of the terms that are added up.
RefOutput batch_norm(const BatchNormDesc& desc, const ConstTensorView& src,
                     const BatchNormWeights& weights);

}  // namespace hwnas::reference
