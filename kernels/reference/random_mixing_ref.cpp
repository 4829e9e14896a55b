#include "kernels/reference/random_mixing_ref.hpp"

#include <cmath>

namespace hwnas::reference {

RefOutput random_mixing(const RandomMixingDesc& d, const ConstTensorView& src,
                        const MixerWeights& weights) {
  const ConstTensorView matrix = weights.get("random_matrix", to_string(d));
  const std::int64_t tokens = d.h * d.w;
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t m = 0; m < tokens; ++m) {
      for (std::int64_t ch = 0; ch < d.c; ++ch) {
        double sum = 0, magnitude = 0;
        for (std::int64_t j = 0; j < tokens; ++j) {
          const double term = at(matrix, m * tokens + j) * at(src, (b * tokens + j) * d.c + ch);
          sum += term;
          magnitude += std::abs(term);
        }
        const auto i = static_cast<std::size_t>((b * tokens + m) * d.c + ch);
        out.value[i] = sum;
        out.magnitude[i] = magnitude;
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
