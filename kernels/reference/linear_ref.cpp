#include "kernels/reference/linear_ref.hpp"

#include <cmath>

#include "kernels/reference/activation_ref.hpp"

namespace hwnas::reference {

RefOutput linear(const LinearDesc& d, const ConstTensorView& src, const ConstTensorView& weights,
                 const ConstTensorView& bias) {
  RefOutput out = RefOutput::of_shape({d.m, d.n});
  for (std::int64_t i = 0; i < d.m; ++i) {
    for (std::int64_t j = 0; j < d.n; ++j) {
      double sum = 0, magnitude = 0;
      for (std::int64_t p = 0; p < d.k; ++p) {
        const double term = at(src, i * d.k + p) * at(weights, j * d.k + p);
        sum += term;
        magnitude += std::abs(term);
      }
      if (d.bias == Bias::Add) {
        sum += at(bias, j);
        magnitude += std::abs(at(bias, j));
      }
      const auto idx = static_cast<std::size_t>(i * d.n + j);
      out.value[idx] = activation(d.act, sum);
      out.magnitude[idx] = magnitude;
    }
  }
  return out;
}

}  // namespace hwnas::reference
