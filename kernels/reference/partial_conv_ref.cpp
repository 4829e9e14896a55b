#include "kernels/reference/partial_conv_ref.hpp"

#include <cmath>

namespace hwnas::reference {

RefOutput partial_conv(const PartialConvDesc& d, const ConstTensorView& src,
                       const MixerWeights& weights) {
  const ConstTensorView wt = weights.get("partial_conv3.weight", to_string(d));
  const std::int64_t cp = partial_conv_channels(d);
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  const auto flat = [&](std::int64_t b, std::int64_t y, std::int64_t x, std::int64_t ch) {
    return ((b * d.h + y) * d.w + x) * d.c + ch;
  };
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t y = 0; y < d.h; ++y) {
      for (std::int64_t x = 0; x < d.w; ++x) {
        for (std::int64_t o = 0; o < d.c; ++o) {
          const auto idx = static_cast<std::size_t>(flat(b, y, x, o));
          if (o >= cp) {
            out.value[idx] = at(src, flat(b, y, x, o));
            out.magnitude[idx] = std::abs(out.value[idx]);
            continue;
          }
          double sum = 0, magnitude = 0;
          for (std::int64_t i = 0; i < cp; ++i) {
            for (std::int64_t ky = 0; ky < 3; ++ky) {
              for (std::int64_t kx = 0; kx < 3; ++kx) {
                const std::int64_t iy = y + ky - 1, ix = x + kx - 1;
                if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
                const double term =
                    at(wt, ((o * cp + i) * 3 + ky) * 3 + kx) * at(src, flat(b, iy, ix, i));
                sum += term;
                magnitude += std::abs(term);
              }
            }
          }
          out.value[idx] = sum;
          out.magnitude[idx] = magnitude;
        }
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
