#include "kernels/reference/gnconv_ref.hpp"

#include <fmt/format.h>

#include <cmath>
#include <numeric>
#include <vector>

namespace hwnas::reference {

RefOutput gnconv(const GnconvDesc& d, const ConstTensorView& src, const MixerWeights& weights) {
  const std::string key = to_string(d);
  const std::vector<std::int64_t> dims = gnconv_dims(d);
  const std::int64_t sum = std::accumulate(dims.begin(), dims.end(), std::int64_t{0});
  const std::int64_t c = d.c, hh = d.h, ww = d.w, tokens = hh * ww, k = d.kernel, pad = k / 2;
  const ConstTensorView w_in = weights.get("proj_in.weight", key);
  const ConstTensorView b_in = weights.get("proj_in.bias", key);
  const ConstTensorView w_dw = weights.get("dwconv.weight", key);
  const ConstTensorView b_dw = weights.get("dwconv.bias", key);
  const ConstTensorView w_out = weights.get("proj_out.weight", key);
  const ConstTensorView b_out = weights.get("proj_out.bias", key);
  const auto idx = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  std::vector<double> fused(idx(tokens * 2 * c)), dw(idx(tokens * sum));
  std::vector<double> p(idx(tokens * c)), next(idx(tokens * c));
  for (std::int64_t n = 0; n < d.n; ++n) {
    // fused = proj_in(x) [2c]; pwa = fused[0:dims[0]], abc = fused[dims[0]:2c].
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t o = 0; o < 2 * c; ++o) {
        double acc = at(b_in, o);
        for (std::int64_t i = 0; i < c; ++i)
          acc += at(w_in, o * c + i) * at(src, (n * tokens + t) * c + i);
        fused[idx(t * 2 * c + o)] = acc;
      }
    }
    // dw = (depthwise conv of abc + bias) * s.
    for (std::int64_t y = 0; y < hh; ++y) {
      for (std::int64_t x = 0; x < ww; ++x) {
        for (std::int64_t ch = 0; ch < sum; ++ch) {
          double acc = at(b_dw, ch);
          for (std::int64_t ky = 0; ky < k; ++ky) {
            for (std::int64_t kx = 0; kx < k; ++kx) {
              const std::int64_t sy = y + ky - pad, sx = x + kx - pad;
              if (sy < 0 || sy >= hh || sx < 0 || sx >= ww) continue;
              acc += at(w_dw, (ch * k + ky) * k + kx) *
                     fused[idx((sy * ww + sx) * 2 * c + dims[0] + ch)];
            }
          }
          dw[idx((y * ww + x) * sum + ch)] = acc * kGnconvScale;
        }
      }
    }
    // p_0 = pwa * dw_0; p_{i+1} = pws_i(p_i) * dw_{i+1}; dw_i = dw[:, off_i : off_i + dims[i]].
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t ch = 0; ch < dims[0]; ++ch) {
        p[idx(t * c + ch)] = fused[idx(t * 2 * c + ch)] * dw[idx(t * sum + ch)];
      }
    }
    std::int64_t offset = dims[0];
    for (std::size_t i = 0; i + 1 < dims.size(); ++i) {
      const ConstTensorView wi = weights.get(fmt::format("pws.{}.weight", i), key);
      const ConstTensorView bi = weights.get(fmt::format("pws.{}.bias", i), key);
      for (std::int64_t t = 0; t < tokens; ++t) {
        for (std::int64_t o = 0; o < dims[i + 1]; ++o) {
          double acc = at(bi, o);
          for (std::int64_t j = 0; j < dims[i]; ++j)
            acc += at(wi, o * dims[i] + j) * p[idx(t * c + j)];
          next[idx(t * c + o)] = acc * dw[idx(t * sum + offset + o)];
        }
      }
      p.swap(next);
      offset += dims[i + 1];
    }
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t o = 0; o < c; ++o) {
        double acc = at(b_out, o), magnitude = std::abs(at(b_out, o));
        for (std::int64_t i = 0; i < c; ++i) {
          const double term = at(w_out, o * c + i) * p[idx(t * c + i)];
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
