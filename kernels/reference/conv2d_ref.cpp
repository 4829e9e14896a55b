#include "kernels/reference/conv2d_ref.hpp"

#include <cmath>

#include "kernels/reference/activation_ref.hpp"

namespace hwnas::reference {

namespace {
// Element (i0, i1, i2, i3) of a rank-4 f32 view; reference::at() decodes a flat index per call, which
// is too slow for the millions of taps of a 57x57x96 case.
double element(const ConstTensorView& v, std::int64_t i0, std::int64_t i1, std::int64_t i2, std::int64_t i3) {
  const Strides& s = v.strides();
  return static_cast<double>(v.f32()[i0 * s[0] + i1 * s[1] + i2 * s[2] + i3 * s[3]]);
}
}  // namespace

RefOutput conv2d(const Conv2dDesc& d, const ConstTensorView& src, const ConstTensorView& weights,
                 const ConstTensorView& bias) {
  const std::int64_t oh = conv2d_out_h(d), ow = conv2d_out_w(d);
  const std::int64_t icg = d.ic / d.groups, ocg = d.oc / d.groups;
  RefOutput out = RefOutput::of_shape(conv2d_dst_shape(d));
  std::size_t idx = 0;
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t oy = 0; oy < oh; ++oy) {
      for (std::int64_t ox = 0; ox < ow; ++ox) {
        for (std::int64_t o = 0; o < d.oc; ++o, ++idx) {
          const std::int64_t group = o / ocg;
          double sum = 0, magnitude = 0;
          for (std::int64_t i = 0; i < icg; ++i) {
            for (std::int64_t ky = 0; ky < d.kh; ++ky) {
              const std::int64_t iy = oy * d.stride_h + ky * d.dilation_h - d.pad_h;
              if (iy < 0 || iy >= d.h) continue;
              for (std::int64_t kx = 0; kx < d.kw; ++kx) {
                const std::int64_t ix = ox * d.stride_w + kx * d.dilation_w - d.pad_w;
                if (ix < 0 || ix >= d.w) continue;
                const double term = element(src, b, iy, ix, group * icg + i) * element(weights, o, i, ky, kx);
                sum += term;
                magnitude += std::abs(term);
              }
            }
          }
          if (d.bias == Bias::Add) {
            const double b_o = static_cast<double>(bias.f32()[o * bias.strides()[0]]);
            sum += b_o;
            magnitude += std::abs(b_o);
          }
          out.value[idx] = activation(d.act, sum);
          out.magnitude[idx] = magnitude;
        }
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
