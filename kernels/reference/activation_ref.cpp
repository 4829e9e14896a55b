#include "kernels/reference/activation_ref.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

namespace hwnas::reference {

double activation(Activation act, double x, double star_scale, double star_bias) {
  switch (act) {
    case Activation::None: return x;
    case Activation::Relu: return std::max(x, 0.0);
    case Activation::GeluErf: return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2));
    case Activation::GeluTanh: {
      const double c = std::sqrt(2.0 / std::numbers::pi);
      return 0.5 * x * (1.0 + std::tanh(c * (x + 0.044715 * x * x * x)));
    }
    case Activation::Silu: return x / (1.0 + std::exp(-x));
    case Activation::StarRelu: {
      const double r = std::max(x, 0.0);
      return star_scale * r * r + star_bias;
    }
    case Activation::Hardswish: return x * std::clamp(x + 3.0, 0.0, 6.0) / 6.0;
    case Activation::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
  }
  return x;
}

}  // namespace hwnas::reference
