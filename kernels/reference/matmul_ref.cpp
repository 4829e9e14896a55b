#include "kernels/reference/matmul_ref.hpp"

#include <cmath>

#include "kernels/reference/activation_ref.hpp"

namespace hwnas::reference {

RefOutput matmul(const MatmulDesc& d, const ConstTensorView& src, const ConstTensorView& weights) {
  RefOutput out = RefOutput::of_shape({d.b, d.m, d.n});
  const bool trans_b = d.trans_b == Transpose::Yes;
  const double scale = d.scale;
  for (std::int64_t batch = 0; batch < d.b; ++batch) {
    for (std::int64_t i = 0; i < d.m; ++i) {
      for (std::int64_t j = 0; j < d.n; ++j) {
        double sum = 0, magnitude = 0;
        for (std::int64_t p = 0; p < d.k; ++p) {
          const std::int64_t w =
              trans_b ? (batch * d.n + j) * d.k + p : (batch * d.k + p) * d.n + j;
          const double term = at(src, (batch * d.m + i) * d.k + p) * at(weights, w);
          sum += term;
          magnitude += std::abs(term);
        }
        const auto idx = static_cast<std::size_t>((batch * d.m + i) * d.n + j);
        out.value[idx] = activation(d.act, scale * sum);
        out.magnitude[idx] = std::abs(scale) * magnitude;
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
