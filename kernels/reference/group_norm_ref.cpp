#include "kernels/reference/group_norm_ref.hpp"

#include <cmath>

namespace hwnas::reference {

RefOutput group_norm(const GroupNormDesc& d, const ConstTensorView& src,
                     const ConstTensorView& gamma, const ConstTensorView& beta) {
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  const std::int64_t pixels = d.h * d.w, cg = d.c / d.groups;
  const double count = static_cast<double>(pixels * cg);
  const auto index = [&](std::int64_t b, std::int64_t p, std::int64_t ch) {
    return (b * pixels + p) * d.c + ch;
  };
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t g = 0; g < d.groups; ++g) {
      double mean = 0;
      for (std::int64_t p = 0; p < pixels; ++p) {
        for (std::int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) mean += at(src, index(b, p, ch));
      }
      mean /= count;
      double var = 0;
      for (std::int64_t p = 0; p < pixels; ++p) {
        for (std::int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) {
          const double centred = at(src, index(b, p, ch)) - mean;
          var += centred * centred;
        }
      }
      var /= count;
      const double inv_std = 1.0 / std::sqrt(var + static_cast<double>(d.eps));
      for (std::int64_t p = 0; p < pixels; ++p) {
        for (std::int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) {
          double scaled = (at(src, index(b, p, ch)) - mean) * inv_std;
          if (d.affine != LayerNormAffine::None) scaled *= at(gamma, ch);
          const double shift = d.affine == LayerNormAffine::ScaleShift ? at(beta, ch) : 0.0;
          const auto idx = static_cast<std::size_t>(index(b, p, ch));
          out.value[idx] = scaled + shift;
          out.magnitude[idx] = std::abs(scaled) + std::abs(shift);
        }
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
