#include "kernels/reference/identity_ref.hpp"

#include <cmath>

namespace hwnas::reference {

RefOutput identity(const IdentityDesc& d, const ConstTensorView& src, const MixerWeights&) {
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  for (std::int64_t i = 0; i < d.n * d.h * d.w * d.c; ++i) {
    const double x = at(src, i);
    out.value[static_cast<std::size_t>(i)] = x;
    out.magnitude[static_cast<std::size_t>(i)] = std::abs(x);
  }
  return out;
}

}  // namespace hwnas::reference
