#include "kernels/reference/dwconv_ref.hpp"

#include <cmath>

namespace hwnas::reference {

void depthwise_same(const ConstTensorView& src, std::int64_t src_c0, std::int64_t channels,
                    const ConstTensorView& weight, const ConstTensorView& bias,
                    std::int64_t dilation, RefOutput& out, std::int64_t dst_c0) {
  const std::int64_t n = src.dim(0), h = src.dim(1), w = src.dim(2), c = src.dim(3);
  const std::int64_t kh = weight.dim(2), kw = weight.dim(3);
  const std::int64_t pad_h = dilation * (kh - 1) / 2, pad_w = dilation * (kw - 1) / 2;
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t y = 0; y < h; ++y) {
      for (std::int64_t x = 0; x < w; ++x) {
        for (std::int64_t ch = 0; ch < channels; ++ch) {
          double sum = bias.empty() ? 0.0 : at(bias, ch);
          double magnitude = std::abs(sum);
          for (std::int64_t ky = 0; ky < kh; ++ky) {
            for (std::int64_t kx = 0; kx < kw; ++kx) {
              const std::int64_t iy = y + ky * dilation - pad_h, ix = x + kx * dilation - pad_w;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              const double term = at(weight, (ch * kh + ky) * kw + kx) *
                                  at(src, ((b * h + iy) * w + ix) * c + src_c0 + ch);
              sum += term;
              magnitude += std::abs(term);
            }
          }
          const auto i =
              static_cast<std::size_t>(((b * h + y) * w + x) * out.shape[3] + dst_c0 + ch);
          out.value[i] = sum;
          out.magnitude[i] = magnitude;
        }
      }
    }
  }
}

RefOutput dwconv(const DwconvMixerDesc& d, const ConstTensorView& src,
                 const MixerWeights& weights) {
  const std::string key = to_string(d);
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  depthwise_same(src, 0, d.c, weights.get("dwconv.weight", key),
                 d.bias == Bias::Add ? weights.get("dwconv.bias", key) : ConstTensorView{},
                 d.dilation, out, 0);
  return out;
}

}  // namespace hwnas::reference
