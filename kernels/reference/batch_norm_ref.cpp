#include "kernels/reference/batch_norm_ref.hpp"

#include <cmath>

namespace hwnas::reference {

RefOutput batch_norm(const BatchNormDesc& d, const ConstTensorView& src,
                     const BatchNormWeights& weights) {
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  const std::int64_t pixels = d.n * d.h * d.w;
  for (std::int64_t pixel = 0; pixel < pixels; ++pixel) {
    for (std::int64_t ch = 0; ch < d.c; ++ch) {
      const double x = at(src, pixel * d.c + ch);
      const double mean = at(weights.mean, ch);
      const double scale =
          at(weights.gamma, ch) / std::sqrt(at(weights.var, ch) + static_cast<double>(d.eps));
      const double beta = at(weights.beta, ch);
      const auto idx = static_cast<std::size_t>(pixel * d.c + ch);
      out.value[idx] = (x - mean) * scale + beta;
      out.magnitude[idx] = (std::abs(x) + std::abs(mean)) * std::abs(scale) + std::abs(beta);
    }
  }
  return out;
}

}  // namespace hwnas::reference
