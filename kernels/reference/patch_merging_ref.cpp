#include "kernels/reference/patch_merging_ref.hpp"

#include <cmath>
#include <vector>

namespace hwnas::reference {

RefOutput patch_merging(const PatchMergingDesc& d, const ConstTensorView& src,
                        const MixerWeights& weights) {
  const std::string key = to_string(d);
  const ConstTensorView gamma = weights.get("norm.weight", key),
                        beta = weights.get("norm.bias", key);
  const ConstTensorView w = weights.get("reduction.weight", key);
  const Shape out_shape = dst_shape(d);
  const std::int64_t oh = out_shape[1], ow = out_shape[2], c = d.c, c4 = 4 * d.c;
  RefOutput out = RefOutput::of_shape(out_shape);
  std::vector<double> t(static_cast<std::size_t>(c4));
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t i = 0; i < oh; ++i) {
      for (std::int64_t j = 0; j < ow; ++j) {
        // x0 = x[0::2, 0::2], x1 = x[1::2, 0::2], x2 = x[0::2, 1::2], x3 = x[1::2, 1::2] on the
        // zero-padded map.
        const std::int64_t dy[] = {0, 1, 0, 1}, dx[] = {0, 0, 1, 1};
        for (int q = 0; q < 4; ++q) {
          const std::int64_t y = 2 * i + dy[q], x = 2 * j + dx[q];
          for (std::int64_t ch = 0; ch < c; ++ch) {
            t[static_cast<std::size_t>(q * c + ch)] =
                y < d.h && x < d.w ? at(src, ((b * d.h + y) * d.w + x) * c + ch) : 0.0;
          }
        }
        double mean = 0, var = 0;
        for (double v : t) mean += v;
        mean /= static_cast<double>(c4);
        for (double v : t) var += (v - mean) * (v - mean);
        var /= static_cast<double>(c4);
        const double rstd = 1.0 / std::sqrt(var + kPatchMergingEps);
        for (std::int64_t k = 0; k < c4; ++k) {
          auto& v = t[static_cast<std::size_t>(k)];
          v = (v - mean) * rstd * at(gamma, k) + at(beta, k);
        }
        for (std::int64_t o = 0; o < 2 * c; ++o) {
          double sum = 0, mag = 0;
          for (std::int64_t k = 0; k < c4; ++k) {
            const double term = at(w, o * c4 + k) * t[static_cast<std::size_t>(k)];
            sum += term;
            mag += std::abs(term);
          }
          const auto idx = static_cast<std::size_t>(((b * oh + i) * ow + j) * 2 * c + o);
          out.value[idx] = sum;
          out.magnitude[idx] = mag;
        }
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
