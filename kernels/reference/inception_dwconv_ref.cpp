#include "kernels/reference/inception_dwconv_ref.hpp"

#include <cmath>

#include "kernels/reference/dwconv_ref.hpp"

namespace hwnas::reference {

RefOutput inception_dwconv(const InceptionDwconvDesc& d, const ConstTensorView& src,
                           const MixerWeights& weights) {
  const std::string key = to_string(d);
  const std::int64_t gc = inception_branch_channels(d), identity = d.c - 3 * gc;
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  for (std::int64_t p = 0; p < d.n * d.h * d.w; ++p) {
    for (std::int64_t ch = 0; ch < identity; ++ch) {
      const auto i = static_cast<std::size_t>(p * d.c + ch);
      out.value[i] = at(src, p * d.c + ch);
      out.magnitude[i] = std::abs(out.value[i]);
    }
  }
  std::int64_t offset = identity;
  for (const char* branch : {"dwconv_hw", "dwconv_w", "dwconv_h"}) {
    depthwise_same(src, offset, gc, weights.get(std::string(branch) + ".weight", key),
                   weights.get(std::string(branch) + ".bias", key), 1, out, offset);
    offset += gc;
  }
  return out;
}

}  // namespace hwnas::reference
