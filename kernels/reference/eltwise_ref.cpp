#include "kernels/reference/eltwise_ref.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/reference/activation_ref.hpp"

namespace hwnas::reference {

RefOutput eltwise(const EltwiseDesc& d, const ConstTensorView& src, const StarReluCoeffs& star) {
  RefOutput out = RefOutput::of_shape({d.numel});
  for (std::int64_t i = 0; i < d.numel; ++i) {
    const double x = at(src, i);
    const auto idx = static_cast<std::size_t>(i);
    out.value[idx] = activation(d.act, x, star.scale, star.bias);
    if (d.act == Activation::StarRelu) {
      const double r = std::max(x, 0.0);
      out.magnitude[idx] = std::abs(static_cast<double>(star.scale)) * r * r +
                           std::abs(static_cast<double>(star.bias));
    } else {
      out.magnitude[idx] = std::abs(out.value[idx]);
    }
  }
  return out;
}

}  // namespace hwnas::reference
