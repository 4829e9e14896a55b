#include "kernels/reference/layer_norm_ref.hpp"

#include <cmath>

namespace hwnas::reference {

RefOutput layer_norm(const LayerNormDesc& d, const ConstTensorView& src,
                     const ConstTensorView& gamma, const ConstTensorView& beta) {
  RefOutput out = RefOutput::of_shape({d.rows, d.c});
  const double eps = d.eps;  // the f32 value the op uses
  for (std::int64_t r = 0; r < d.rows; ++r) {
    double mean = 0;
    for (std::int64_t i = 0; i < d.c; ++i) mean += at(src, r * d.c + i);
    mean /= static_cast<double>(d.c);
    double var = 0;
    for (std::int64_t i = 0; i < d.c; ++i) {
      const double centred = at(src, r * d.c + i) - mean;
      var += centred * centred;
    }
    var /= static_cast<double>(d.c);
    const double inv_std = 1.0 / std::sqrt(var + eps);
    for (std::int64_t i = 0; i < d.c; ++i) {
      double scaled = (at(src, r * d.c + i) - mean) * inv_std;
      if (d.affine != LayerNormAffine::None) scaled *= at(gamma, i);
      const double shift = d.affine == LayerNormAffine::ScaleShift ? at(beta, i) : 0.0;
      const auto idx = static_cast<std::size_t>(r * d.c + i);
      out.value[idx] = scaled + shift;
      out.magnitude[idx] = std::abs(scaled) + std::abs(shift);
    }
  }
  return out;
}

}  // namespace hwnas::reference
