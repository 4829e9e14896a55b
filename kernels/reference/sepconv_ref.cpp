#include "kernels/reference/sepconv_ref.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace hwnas::reference {

RefOutput sepconv(const SepconvDesc& d, const ConstTensorView& src, const MixerWeights& weights) {
  const std::string key = to_string(d);
  const std::int64_t c = d.c, hh = d.h, ww = d.w, tokens = hh * ww, k = d.kernel, pad = k / 2;
  const std::int64_t med = sepconv_med(d);
  const ConstTensorView w1 = weights.get("pwconv1.weight", key);
  const ConstTensorView w_dw = weights.get("dwconv.weight", key);
  const ConstTensorView w2 = weights.get("pwconv2.weight", key);
  const double scale = at(weights.get("act1.scale", key), 0);
  const double bias = at(weights.get("act1.bias", key), 0);
  const auto idx = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  std::vector<double> act(idx(tokens * med)), conv(idx(tokens * med));
  for (std::int64_t n = 0; n < d.n; ++n) {
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t o = 0; o < med; ++o) {
        double a = 0;
        for (std::int64_t i = 0; i < c; ++i)
          a += at(w1, o * c + i) * at(src, (n * tokens + t) * c + i);
        const double r = std::max(a, 0.0);
        act[idx(t * med + o)] = scale * r * r + bias;
      }
    }
    // Zero padding applies to the activated map: taps outside read 0, not act(0) = bias.
    for (std::int64_t y = 0; y < hh; ++y) {
      for (std::int64_t x = 0; x < ww; ++x) {
        for (std::int64_t ch = 0; ch < med; ++ch) {
          double acc = 0;
          for (std::int64_t ky = 0; ky < k; ++ky) {
            for (std::int64_t kx = 0; kx < k; ++kx) {
              const std::int64_t sy = y + ky - pad, sx = x + kx - pad;
              if (sy < 0 || sy >= hh || sx < 0 || sx >= ww) continue;
              acc += at(w_dw, (ch * k + ky) * k + kx) * act[idx((sy * ww + sx) * med + ch)];
            }
          }
          conv[idx((y * ww + x) * med + ch)] = acc;
        }
      }
    }
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t o = 0; o < c; ++o) {
        double acc = 0, magnitude = 0;
        for (std::int64_t j = 0; j < med; ++j) {
          const double term = at(w2, o * med + j) * conv[idx(t * med + j)];
          acc += term;
          magnitude += std::abs(term);
        }
        out.value[idx((n * tokens + t) * c + o)] = acc;
        out.magnitude[idx((n * tokens + t) * c + o)] = magnitude;
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
