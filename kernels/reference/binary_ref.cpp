#include "kernels/reference/binary_ref.hpp"

#include <cmath>

namespace hwnas::reference {

RefOutput binary(const BinaryDesc& d, const ConstTensorView& src0, const ConstTensorView& src1) {
  const Shape s1 = binary_src1_shape(d);
  RefOutput out = RefOutput::of_shape(binary_src0_shape(d));
  // A broadcast axis of src1 has extent 1, so its index is always 0.
  const auto index1 = [&](std::int64_t b, std::int64_t y, std::int64_t x, std::int64_t ch) {
    return (((s1[0] == 1 ? 0 : b) * s1[1] + (s1[1] == 1 ? 0 : y)) * s1[2] + (s1[2] == 1 ? 0 : x)) *
               s1[3] +
           (s1[3] == 1 ? 0 : ch);
  };
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t y = 0; y < d.h; ++y) {
      for (std::int64_t x = 0; x < d.w; ++x) {
        for (std::int64_t ch = 0; ch < d.c; ++ch) {
          const std::int64_t i0 = ((b * d.h + y) * d.w + x) * d.c + ch;
          const double a = at(src0, i0), v = at(src1, index1(b, y, x, ch));
          const auto idx = static_cast<std::size_t>(i0);
          out.value[idx] = d.alg == BinaryAlg::Add ? a + v : a * v;
          out.magnitude[idx] = std::abs(out.value[idx]);
        }
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
