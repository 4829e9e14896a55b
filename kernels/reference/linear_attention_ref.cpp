#include "kernels/reference/linear_attention_ref.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace hwnas::reference {

RefOutput linear_attention(const LinearAttentionDesc& d, const ConstTensorView& src,
                           const MixerWeights& weights) {
  const std::string key = to_string(d);
  const std::int64_t c = d.c, hd = d.c / d.heads, hw = d.h * d.w, tokens = d.n * hw;
  // Dense float64 copies, so the loops below index plainly.
  const auto dense = [](const ConstTensorView& view) {
    std::vector<double> out(static_cast<std::size_t>(view.numel()));
    for (std::int64_t i = 0; i < view.numel(); ++i) out[static_cast<std::size_t>(i)] = at(view, i);
    return out;
  };
  const std::vector<double> input = dense(src), qkv_w = dense(weights.get("qkv.weight", key));
  const std::vector<double> qkv_b =
      d.qkv_bias == Bias::Add ? dense(weights.get("qkv.bias", key)) : std::vector<double>(3 * c);
  const auto phi = [&](double x) {
    if (d.feature_map == FeatureMap::Relu) return x > 0 ? x : 0.0;
    return x > 0 ? x + 1.0 : std::exp(x);  // elu(x) + 1
  };

  // qkv[t][j], j < 3c: q | k | v.
  std::vector<double> qkv(static_cast<std::size_t>(tokens * 3 * c));
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (std::int64_t j = 0; j < 3 * c; ++j) {
      double sum = qkv_b[static_cast<std::size_t>(j)];
      for (std::int64_t i = 0; i < c; ++i) {
        sum +=
            input[static_cast<std::size_t>(t * c + i)] * qkv_w[static_cast<std::size_t>(j * c + i)];
      }
      qkv[static_cast<std::size_t>(t * 3 * c + j)] = sum;
    }
  }
  const auto q = [&](std::int64_t t, std::int64_t ch) {
    return qkv[static_cast<std::size_t>(t * 3 * c + ch)];
  };
  const auto k = [&](std::int64_t t, std::int64_t ch) { return q(t, c + ch); };
  const auto v = [&](std::int64_t t, std::int64_t ch) { return q(t, 2 * c + ch); };

  std::vector<double> a(static_cast<std::size_t>(tokens * c));
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t head = 0; head < d.heads; ++head) {
      const std::int64_t ch0 = head * hd;
      std::vector<double> kv(static_cast<std::size_t>(hd * hd)), z(static_cast<std::size_t>(hd));
      for (std::int64_t t = b * hw; t < (b + 1) * hw; ++t) {
        for (std::int64_t i = 0; i < hd; ++i) {
          const double pk = phi(k(t, ch0 + i));
          z[static_cast<std::size_t>(i)] += pk;
          for (std::int64_t j = 0; j < hd; ++j) {
            kv[static_cast<std::size_t>(i * hd + j)] += pk * v(t, ch0 + j);
          }
        }
      }
      for (std::int64_t t = b * hw; t < (b + 1) * hw; ++t) {
        double den = kLinearAttentionEps;
        for (std::int64_t i = 0; i < hd; ++i)
          den += phi(q(t, ch0 + i)) * z[static_cast<std::size_t>(i)];
        for (std::int64_t j = 0; j < hd; ++j) {
          double num = 0;
          for (std::int64_t i = 0; i < hd; ++i) {
            num += phi(q(t, ch0 + i)) * kv[static_cast<std::size_t>(i * hd + j)];
          }
          a[static_cast<std::size_t>(t * c + ch0 + j)] = num / den;
        }
      }
    }
  }

  if (d.local_kernel > 0) {
    const ConstTensorView dwc_w = weights.get("dwc.weight", key);
    const ConstTensorView dwc_b = weights.get("dwc.bias", key);
    const std::int64_t kk = d.local_kernel, pad = kk / 2;
    for (std::int64_t b = 0; b < d.n; ++b) {
      for (std::int64_t y = 0; y < d.h; ++y) {
        for (std::int64_t x = 0; x < d.w; ++x) {
          for (std::int64_t ch = 0; ch < c; ++ch) {
            double conv = at(dwc_b, ch);
            for (std::int64_t ky = 0; ky < kk; ++ky) {
              for (std::int64_t kx = 0; kx < kk; ++kx) {
                const std::int64_t yy = y + ky - pad, xx = x + kx - pad;
                if (yy < 0 || yy >= d.h || xx < 0 || xx >= d.w) continue;
                conv += at(dwc_w, (ch * kk + ky) * kk + kx) * v((b * d.h + yy) * d.w + xx, ch);
              }
            }
            a[static_cast<std::size_t>(((b * d.h + y) * d.w + x) * c + ch)] += conv;
          }
        }
      }
    }
  }

  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, c});
  const std::vector<double> proj_w = dense(weights.get("proj.weight", key));
  const std::vector<double> proj_b = dense(weights.get("proj.bias", key));
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (std::int64_t o = 0; o < c; ++o) {
      const double bias = proj_b[static_cast<std::size_t>(o)];
      double sum = bias, magnitude = std::abs(bias);
      for (std::int64_t i = 0; i < c; ++i) {
        const double term =
            proj_w[static_cast<std::size_t>(o * c + i)] * a[static_cast<std::size_t>(t * c + i)];
        sum += term;
        magnitude += std::abs(term);
      }
      out.value[static_cast<std::size_t>(t * c + o)] = sum;
      out.magnitude[static_cast<std::size_t>(t * c + o)] = magnitude;
    }
  }
  return out;
}

}  // namespace hwnas::reference
