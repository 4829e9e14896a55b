#include "kernels/reference/softmax_ref.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hwnas::reference {

RefOutput softmax(const SoftmaxDesc& d, const ConstTensorView& src) {
  RefOutput out = RefOutput::of_shape({d.rows, d.n});
  for (std::int64_t r = 0; r < d.rows; ++r) {
    double max = -std::numeric_limits<double>::infinity();
    for (std::int64_t j = 0; j < d.n; ++j) max = std::max(max, at(src, r * d.n + j));
    double sum = 0;
    for (std::int64_t j = 0; j < d.n; ++j) sum += std::exp(at(src, r * d.n + j) - max);
    for (std::int64_t j = 0; j < d.n; ++j) {
      const auto idx = static_cast<std::size_t>(r * d.n + j);
      out.value[idx] = std::exp(at(src, r * d.n + j) - max) / sum;
      out.magnitude[idx] = out.value[idx];
    }
  }
  return out;
}

}  // namespace hwnas::reference
