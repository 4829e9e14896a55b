// Activations in float64, straight from their definitions.
#pragma once

#include "kernels/activation.hpp"

namespace hwnas::reference {

// StarRelu uses the given scale and bias; the others ignore them.
double activation(Activation act, double x, double star_scale = kStarReluScale,
                  double star_bias = kStarReluBias);

}  // namespace hwnas::reference
