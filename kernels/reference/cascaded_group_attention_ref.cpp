#include "kernels/reference/cascaded_group_attention_ref.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace hwnas::reference {
namespace {

enum class Cascade { On, Off };

RefOutput compute(const CascadedGroupAttentionDesc& d, const ConstTensorView& src,
                  const MixerWeights& weights, Cascade cascade) {
  const std::string key = to_string(d);
  const CgaWindows g = cga_windows(d);
  const std::int64_t c = d.c, hd = d.c / d.heads, kd = d.key_dim, k = d.kernel, r = k / 2;
  const std::int64_t qkv_out = 2 * kd + hd, tokens = g.tokens();
  const double scale = 1.0 / std::sqrt(static_cast<double>(kd));
  const ConstTensorView table = weights.get("attention_biases", key);
  const ConstTensorView wproj = weights.get("proj.weight", key);
  const ConstTensorView bproj = weights.get("proj.bias", key);
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  const auto idx = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  std::vector<double> x(idx(tokens * c)), feat(idx(tokens * hd)), qkv(idx(tokens * qkv_out));
  std::vector<double> q(idx(tokens * kd)), cat(idx(tokens * c)), p(idx(tokens));
  for (std::int64_t n = 0; n < d.n; ++n) {
    for (std::int64_t wy = 0; wy < g.nh; ++wy) {
      for (std::int64_t wx = 0; wx < g.nw; ++wx) {
        // The window's tokens, zero where they fall into the bottom/right padding.
        for (std::int64_t t = 0; t < tokens; ++t) {
          const std::int64_t y = wy * g.wh + t / g.ww, xx = wx * g.ww + t % g.ww;
          for (std::int64_t ch = 0; ch < c; ++ch) {
            x[idx(t * c + ch)] =
                y < d.h && xx < d.w ? at(src, ((n * d.h + y) * d.w + xx) * c + ch) : 0.0;
          }
        }
        for (std::int64_t head = 0; head < d.heads; ++head) {
          const std::string i = std::to_string(head);
          const ConstTensorView wq = weights.get("qkvs." + i + ".weight", key);
          const ConstTensorView bq = weights.get("qkvs." + i + ".bias", key);
          const ConstTensorView wdw = weights.get("dws." + i + ".weight", key);
          const ConstTensorView bdw = weights.get("dws." + i + ".bias", key);
          for (std::int64_t t = 0; t < tokens; ++t) {
            for (std::int64_t ch = 0; ch < hd; ++ch) {
              double v = x[idx(t * c + head * hd + ch)];
              if (cascade == Cascade::On && head > 0) v += cat[idx(t * c + (head - 1) * hd + ch)];
              feat[idx(t * hd + ch)] = v;
            }
            for (std::int64_t o = 0; o < qkv_out; ++o) {
              double sum = at(bq, o);
              for (std::int64_t e = 0; e < hd; ++e) {
                sum += at(wq, o * hd + e) * feat[idx(t * hd + e)];
              }
              qkv[idx(t * qkv_out + o)] = sum;
            }
          }
          for (std::int64_t t = 0; t < tokens; ++t) {
            const std::int64_t y = t / g.ww, xx = t % g.ww;
            for (std::int64_t ch = 0; ch < kd; ++ch) {
              double sum = at(bdw, ch);
              for (std::int64_t ky = 0; ky < k; ++ky) {
                for (std::int64_t kx = 0; kx < k; ++kx) {
                  const std::int64_t sy = y + ky - r, sx = xx + kx - r;
                  if (sy < 0 || sy >= g.wh || sx < 0 || sx >= g.ww) continue;
                  sum +=
                      at(wdw, (ch * k + ky) * k + kx) * qkv[idx((sy * g.ww + sx) * qkv_out + ch)];
                }
              }
              q[idx(t * kd + ch)] = sum;
            }
          }
          for (std::int64_t a = 0; a < tokens; ++a) {
            double row_max = -INFINITY;
            for (std::int64_t b = 0; b < tokens; ++b) {
              double dot = 0;
              for (std::int64_t e = 0; e < kd; ++e) {
                dot += q[idx(a * kd + e)] * qkv[idx(b * qkv_out + kd + e)];
              }
              const std::int64_t dy = std::abs(a / g.ww - b / g.ww);
              const std::int64_t dx = std::abs(a % g.ww - b % g.ww);
              p[idx(b)] = dot * scale + at(table, head * tokens + dy * g.ww + dx);
              row_max = std::max(row_max, p[idx(b)]);
            }
            double total = 0;
            for (double& v : p) total += (v = std::exp(v - row_max));
            for (std::int64_t ch = 0; ch < hd; ++ch) {
              double sum = 0;
              for (std::int64_t b = 0; b < tokens; ++b) {
                sum += p[idx(b)] / total * qkv[idx(b * qkv_out + 2 * kd + ch)];
              }
              cat[idx(a * c + head * hd + ch)] = sum;
            }
          }
        }
        for (std::int64_t t = 0; t < tokens; ++t) {
          const std::int64_t y = wy * g.wh + t / g.ww, xx = wx * g.ww + t % g.ww;
          if (y >= d.h || xx >= d.w) continue;
          for (std::int64_t o = 0; o < c; ++o) {
            double sum = at(bproj, o), magnitude = std::abs(at(bproj, o));
            for (std::int64_t e = 0; e < c; ++e) {
              const double term = at(wproj, o * c + e) * std::max(cat[idx(t * c + e)], 0.0);
              sum += term;
              magnitude += std::abs(term);
            }
            const auto flat = idx(((n * d.h + y) * d.w + xx) * c + o);
            out.value[flat] = sum;
            out.magnitude[flat] = magnitude;
          }
        }
      }
    }
  }
  return out;
}

}  // namespace

RefOutput cascaded_group_attention(const CascadedGroupAttentionDesc& desc,
                                   const ConstTensorView& src, const MixerWeights& weights) {
  return compute(desc, src, weights, Cascade::On);
}

RefOutput cascaded_group_attention_without_cascade(const CascadedGroupAttentionDesc& desc,
                                                   const ConstTensorView& src,
                                                   const MixerWeights& weights) {
  return compute(desc, src, weights, Cascade::Off);
}

}  // namespace hwnas::reference
