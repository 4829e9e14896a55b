#include "kernels/reference/pool_ref.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace hwnas::reference {

RefOutput pool(const PoolDesc& d, const ConstTensorView& src) {
  const Shape dst = pool_dst_shape(d);
  RefOutput out = RefOutput::of_shape(dst);
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t oy = 0; oy < dst[1]; ++oy) {
      for (std::int64_t ox = 0; ox < dst[2]; ++ox) {
        for (std::int64_t ch = 0; ch < d.c; ++ch) {
          double max = -std::numeric_limits<double>::infinity(), sum = 0, abs_sum = 0;
          std::int64_t inside = 0;
          for (std::int64_t ky = 0; ky < d.kh; ++ky) {
            for (std::int64_t kx = 0; kx < d.kw; ++kx) {
              const std::int64_t y = oy * d.stride - d.pad + ky, x = ox * d.stride - d.pad + kx;
              if (y < 0 || y >= d.h || x < 0 || x >= d.w) continue;  // padding
              const double v = at(src, ((b * d.h + y) * d.w + x) * d.c + ch);
              max = std::max(max, v);
              sum += v;
              abs_sum += std::abs(v);
              ++inside;
            }
          }
          const double divisor =
              static_cast<double>(d.count_include_pad == CountPad::Include ? d.kh * d.kw : inside);
          const auto idx = static_cast<std::size_t>(((b * dst[1] + oy) * dst[2] + ox) * d.c + ch);
          out.value[idx] = d.alg == PoolAlg::Max ? max : sum / divisor;
          out.magnitude[idx] = d.alg == PoolAlg::Max ? std::abs(max) : abs_sum / divisor;
        }
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
