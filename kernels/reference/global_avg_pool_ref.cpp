#include "kernels/reference/global_avg_pool_ref.hpp"

#include <cmath>

namespace hwnas::reference {

RefOutput global_avg_pool(const GlobalAvgPoolDesc& d, const ConstTensorView& src) {
  RefOutput out = RefOutput::of_shape({d.n, d.c});
  const double count = static_cast<double>(d.h * d.w);
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t ch = 0; ch < d.c; ++ch) {
      double sum = 0, abs_sum = 0;
      for (std::int64_t p = 0; p < d.h * d.w; ++p) {
        const double v = at(src, (b * d.h * d.w + p) * d.c + ch);
        sum += v;
        abs_sum += std::abs(v);
      }
      const auto idx = static_cast<std::size_t>(b * d.c + ch);
      out.value[idx] = sum / count;
      out.magnitude[idx] = abs_sum / count;
    }
  }
  return out;
}

}  // namespace hwnas::reference
