#include "kernels/reference/pool_mixer_ref.hpp"

#include <cmath>

namespace hwnas::reference {

RefOutput pool_mixer(const PoolMixerDesc& d, const ConstTensorView& src, const MixerWeights&) {
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  const std::int64_t half = d.pool / 2;
  const auto flat = [&](std::int64_t b, std::int64_t y, std::int64_t x, std::int64_t ch) {
    return ((b * d.h + y) * d.w + x) * d.c + ch;
  };
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t y = 0; y < d.h; ++y) {
      for (std::int64_t x = 0; x < d.w; ++x) {
        for (std::int64_t ch = 0; ch < d.c; ++ch) {
          double sum = 0, magnitude = 0;
          std::int64_t count = 0;
          for (std::int64_t dy = -half; dy <= half; ++dy) {
            for (std::int64_t dx = -half; dx <= half; ++dx) {
              const std::int64_t iy = y + dy, ix = x + dx;
              if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
              const double v = at(src, flat(b, iy, ix, ch));
              sum += v;
              magnitude += std::abs(v);
              ++count;
            }
          }
          const double self = at(src, flat(b, y, x, ch));
          const auto i = static_cast<std::size_t>(flat(b, y, x, ch));
          out.value[i] = sum / static_cast<double>(count) - self;
          out.magnitude[i] = magnitude / static_cast<double>(count) + std::abs(self);
        }
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
