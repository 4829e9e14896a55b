#include "kernels/reference/channel_attention_ref.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace hwnas::reference {

RefOutput channel_attention(const ChannelAttentionDesc& d, const ConstTensorView& src,
                            const MixerWeights& weights) {
  const std::string key = to_string(d);
  const ConstTensorView wqkv = weights.get("qkv.weight", key);
  const ConstTensorView wproj = weights.get("proj.weight", key);
  const ConstTensorView bproj = weights.get("proj.bias", key);
  const std::int64_t tokens = d.h * d.w, c = d.c, hd = d.c / d.heads;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  std::vector<double> qkv(static_cast<std::size_t>(tokens * 3 * c));
  std::vector<double> attn(static_cast<std::size_t>(hd * hd));
  std::vector<double> mixed(static_cast<std::size_t>(tokens * c));
  // qkv[t, s, head, i]: s = 0 (q), 1 (k), 2 (v), as timm's reshape(B, N, 3, heads, d).
  const auto at_qkv = [&](std::int64_t t, std::int64_t s, std::int64_t head, std::int64_t i) {
    return qkv[static_cast<std::size_t>(t * 3 * c + s * c + head * hd + i)];
  };
  for (std::int64_t n = 0; n < d.n; ++n) {
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t o = 0; o < 3 * c; ++o) {
        double sum = d.qkv_bias == Bias::Add ? at(weights.get("qkv.bias", key), o) : 0.0;
        for (std::int64_t i = 0; i < c; ++i) {
          sum += at(wqkv, o * c + i) * at(src, (n * tokens + t) * c + i);
        }
        qkv[static_cast<std::size_t>(t * 3 * c + o)] = sum;
      }
    }
    for (std::int64_t head = 0; head < d.heads; ++head) {
      for (std::int64_t i = 0; i < hd; ++i) {
        double row_max = -INFINITY;
        for (std::int64_t j = 0; j < hd; ++j) {
          double sum = 0;
          for (std::int64_t t = 0; t < tokens; ++t) {
            sum += at_qkv(t, 1, head, i) * scale * at_qkv(t, 2, head, j);
          }
          attn[static_cast<std::size_t>(i * hd + j)] = sum;
          row_max = std::max(row_max, sum);
        }
        double total = 0;
        for (std::int64_t j = 0; j < hd; ++j) {
          double& a = attn[static_cast<std::size_t>(i * hd + j)];
          total += (a = std::exp(a - row_max));
        }
        for (std::int64_t j = 0; j < hd; ++j) attn[static_cast<std::size_t>(i * hd + j)] /= total;
      }
      for (std::int64_t t = 0; t < tokens; ++t) {
        for (std::int64_t i = 0; i < hd; ++i) {
          double sum = 0;
          for (std::int64_t j = 0; j < hd; ++j) {
            sum += attn[static_cast<std::size_t>(i * hd + j)] * at_qkv(t, 0, head, j);
          }
          mixed[static_cast<std::size_t>(t * c + head * hd + i)] = sum;
        }
      }
    }
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t o = 0; o < c; ++o) {
        double sum = at(bproj, o), magnitude = std::abs(at(bproj, o));
        for (std::int64_t i = 0; i < c; ++i) {
          const double term = at(wproj, o * c + i) * mixed[static_cast<std::size_t>(t * c + i)];
          sum += term;
          magnitude += std::abs(term);
        }
        const auto idx = static_cast<std::size_t>((n * tokens + t) * c + o);
        out.value[idx] = sum;
        out.magnitude[idx] = magnitude;
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
