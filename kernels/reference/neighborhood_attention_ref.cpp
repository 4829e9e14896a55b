#include "kernels/reference/neighborhood_attention_ref.hpp"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace hwnas::reference {
namespace {

// The k positions pixel i of an axis of `size` attends to: within its dilation group (the pixels
// i % dilation, i % dilation + dilation, ...), the k consecutive members starting at
// clamp(index - k/2, 0, members - k), so a window at the border shifts inward.
std::vector<std::int64_t> window(std::int64_t i, std::int64_t size, std::int64_t k,
                                 std::int64_t dilation) {
  const std::int64_t group = i % dilation;
  std::vector<std::int64_t> members;
  for (std::int64_t p = group; p < size; p += dilation) members.push_back(p);
  const std::int64_t index = i / dilation;
  const std::int64_t start =
      std::clamp(index - k / 2, std::int64_t{0}, static_cast<std::int64_t>(members.size()) - k);
  return {members.begin() + start, members.begin() + start + k};
}

}  // namespace

RefOutput neighborhood_attention(const NeighborhoodAttentionDesc& d, const ConstTensorView& src,
                                 const MixerWeights& weights) {
  const std::string key = to_string(d);
  const std::int64_t c = d.c, k = d.kernel, dil = d.dilation, hd = d.c / d.heads;
  // pad=1: zeros at the bottom/right up to kernel * dilation, as the NAT/DiNAT modules do.
  const std::int64_t mh = d.pad ? std::max(d.h, k * dil) : d.h;
  const std::int64_t mw = d.pad ? std::max(d.w, k * dil) : d.w;
  const ConstTensorView qkv_w = weights.get("qkv.weight", key);
  const ConstTensorView proj_w = weights.get("proj.weight", key);
  const ConstTensorView proj_b = weights.get("proj.bias", key);
  const ConstTensorView rpb = d.rel_pos ? weights.get("rpb", key) : ConstTensorView{};
  const ConstTensorView qkv_b =
      d.qkv_bias == Bias::Add ? weights.get("qkv.bias", key) : ConstTensorView{};

  std::vector<double> qkv(static_cast<std::size_t>(d.n * mh * mw * 3 * c), 0.0);
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t y = 0; y < mh; ++y) {
      for (std::int64_t x = 0; x < mw; ++x) {
        for (std::int64_t o = 0; o < 3 * c; ++o) {
          double sum = d.qkv_bias == Bias::Add ? at(qkv_b, o) : 0.0;
          if (y < d.h && x < d.w) {
            for (std::int64_t i = 0; i < c; ++i) {
              sum += at(qkv_w, o * c + i) * at(src, ((b * d.h + y) * d.w + x) * c + i);
            }
          }
          qkv[static_cast<std::size_t>(((b * mh + y) * mw + x) * 3 * c + o)] = sum;
        }
      }
    }
  }

  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  std::vector<double> attn(static_cast<std::size_t>(d.n * d.h * d.w * c), 0.0);
  std::vector<double> logits(static_cast<std::size_t>(k * k));
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t y = 0; y < d.h; ++y) {
      for (std::int64_t x = 0; x < d.w; ++x) {
        const std::vector<std::int64_t> rows = window(y, mh, k, dil);
        const std::vector<std::int64_t> cols = window(x, mw, k, dil);
        const double* query = &qkv[static_cast<std::size_t>(((b * mh + y) * mw + x) * 3 * c)];
        for (std::int64_t head = 0; head < d.heads; ++head) {
          double max_logit = -INFINITY;
          for (std::int64_t ty = 0; ty < k; ++ty) {
            for (std::int64_t tx = 0; tx < k; ++tx) {
              const std::int64_t ky = rows[static_cast<std::size_t>(ty)];
              const std::int64_t kx = cols[static_cast<std::size_t>(tx)];
              const double* key_px =
                  &qkv[static_cast<std::size_t>(((b * mh + ky) * mw + kx) * 3 * c)];
              double dot = 0;
              for (std::int64_t ch = 0; ch < hd; ++ch) {
                dot += scale * query[head * hd + ch] * key_px[c + head * hd + ch];
              }
              if (d.rel_pos) {
                // NATTEN's rpb [heads, 2k-1, 2k-1] at the (row, column) offset of key to query in
                // dilated steps, shifted by k-1: a clamped window reads other entries.
                const std::int64_t bias_row = (ky - y) / dil + k - 1;
                const std::int64_t bias_col = (kx - x) / dil + k - 1;
                dot += at(rpb, (head * (2 * k - 1) + bias_row) * (2 * k - 1) + bias_col);
              }
              logits[static_cast<std::size_t>(ty * k + tx)] = dot;
              max_logit = std::max(max_logit, dot);
            }
          }
          double sum = 0;
          for (double& l : logits) sum += (l = std::exp(l - max_logit));
          for (std::int64_t ty = 0; ty < k; ++ty) {
            for (std::int64_t tx = 0; tx < k; ++tx) {
              const std::int64_t ky = rows[static_cast<std::size_t>(ty)];
              const std::int64_t kx = cols[static_cast<std::size_t>(tx)];
              const double p = logits[static_cast<std::size_t>(ty * k + tx)] / sum;
              const double* value =
                  &qkv[static_cast<std::size_t>(((b * mh + ky) * mw + kx) * 3 * c)];
              for (std::int64_t ch = 0; ch < hd; ++ch) {
                attn[static_cast<std::size_t>(((b * d.h + y) * d.w + x) * c + head * hd + ch)] +=
                    p * value[2 * c + head * hd + ch];
              }
            }
          }
        }
      }
    }
  }

  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, c});
  for (std::int64_t t = 0; t < d.n * d.h * d.w; ++t) {
    for (std::int64_t o = 0; o < c; ++o) {
      double sum = at(proj_b, o), magnitude = std::abs(at(proj_b, o));
      for (std::int64_t i = 0; i < c; ++i) {
        const double term = at(proj_w, o * c + i) * attn[static_cast<std::size_t>(t * c + i)];
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
