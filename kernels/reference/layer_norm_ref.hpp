#pragma once

#include "kernels/ops/layer_norm.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// layer_norm in float64 from the definition, mean and variance in two passes; src [.., c], gamma
// and beta [c] or empty as desc.affine says. magnitude = |gamma * xhat| + |beta|.
RefOutput layer_norm(const LayerNormDesc& desc, const ConstTensorView& src,
                     const ConstTensorView& gamma, const ConstTensorView& beta);

}  // namespace hwnas::reference
