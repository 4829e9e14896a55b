#include "kernels/reference/single_head_attention_ref.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace hwnas::reference {

RefOutput single_head_attention(const SingleHeadAttentionDesc& d, const ConstTensorView& src,
                                const MixerWeights& weights) {
  const std::string key = to_string(d);
  const ConstTensorView gamma = weights.get("pre_norm.weight", key);
  const ConstTensorView beta = weights.get("pre_norm.bias", key);
  const ConstTensorView wqkv = weights.get("qkv.weight", key);
  const ConstTensorView bqkv = weights.get("qkv.bias", key);
  const ConstTensorView wproj = weights.get("proj.weight", key);
  const ConstTensorView bproj = weights.get("proj.bias", key);
  const std::int64_t hw = d.h * d.w, c = d.c, pdim = d.pdim, qk = d.qk_dim;
  const std::int64_t qkv_out = 2 * qk + pdim;
  const double scale = 1.0 / std::sqrt(static_cast<double>(qk));
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  std::vector<double> x1(static_cast<std::size_t>(hw * pdim));
  std::vector<double> qkv(static_cast<std::size_t>(hw * qkv_out));
  std::vector<double> cat(static_cast<std::size_t>(hw * c));
  std::vector<double> p(static_cast<std::size_t>(hw));
  for (std::int64_t n = 0; n < d.n; ++n) {
    const auto x = [&](std::int64_t t, std::int64_t ch) { return at(src, (n * hw + t) * c + ch); };
    // GroupNorm, one group: one mean and one (biased) variance over every value of the slice.
    double mean = 0;
    for (std::int64_t t = 0; t < hw; ++t) {
      for (std::int64_t ch = 0; ch < pdim; ++ch) mean += x(t, ch);
    }
    mean /= static_cast<double>(hw * pdim);
    double var = 0;
    for (std::int64_t t = 0; t < hw; ++t) {
      for (std::int64_t ch = 0; ch < pdim; ++ch) var += (x(t, ch) - mean) * (x(t, ch) - mean);
    }
    var /= static_cast<double>(hw * pdim);
    const double rstd = 1.0 / std::sqrt(var + kSingleHeadAttentionGroupNormEps);
    for (std::int64_t t = 0; t < hw; ++t) {
      for (std::int64_t ch = 0; ch < pdim; ++ch) {
        x1[static_cast<std::size_t>(t * pdim + ch)] =
            (x(t, ch) - mean) * rstd * at(gamma, ch) + at(beta, ch);
      }
    }
    for (std::int64_t t = 0; t < hw; ++t) {
      for (std::int64_t o = 0; o < qkv_out; ++o) {
        double sum = at(bqkv, o);
        for (std::int64_t i = 0; i < pdim; ++i) {
          sum += at(wqkv, o * pdim + i) * x1[static_cast<std::size_t>(t * pdim + i)];
        }
        qkv[static_cast<std::size_t>(t * qkv_out + o)] = sum;
      }
    }
    const auto q = [&](std::int64_t t, std::int64_t i) {
      return qkv[static_cast<std::size_t>(t * qkv_out + i)];
    };
    for (std::int64_t i = 0; i < hw; ++i) {
      double row_max = -INFINITY;
      for (std::int64_t j = 0; j < hw; ++j) {
        double dot = 0;
        for (std::int64_t e = 0; e < qk; ++e) dot += q(i, e) * q(j, qk + e);
        p[static_cast<std::size_t>(j)] = dot * scale;
        row_max = std::max(row_max, dot * scale);
      }
      double total = 0;
      for (double& v : p) total += (v = std::exp(v - row_max));
      for (std::int64_t ch = 0; ch < pdim; ++ch) {
        double sum = 0;
        for (std::int64_t j = 0; j < hw; ++j) {
          sum += p[static_cast<std::size_t>(j)] / total * q(j, 2 * qk + ch);
        }
        cat[static_cast<std::size_t>(i * c + ch)] = std::max(sum, 0.0);
      }
      for (std::int64_t ch = pdim; ch < c; ++ch) {
        cat[static_cast<std::size_t>(i * c + ch)] = std::max(x(i, ch), 0.0);
      }
    }
    for (std::int64_t t = 0; t < hw; ++t) {
      for (std::int64_t o = 0; o < c; ++o) {
        double sum = at(bproj, o), magnitude = std::abs(at(bproj, o));
        for (std::int64_t i = 0; i < c; ++i) {
          const double term = at(wproj, o * c + i) * cat[static_cast<std::size_t>(t * c + i)];
          sum += term;
          magnitude += std::abs(term);
        }
        const auto idx = static_cast<std::size_t>((n * hw + t) * c + o);
        out.value[idx] = sum;
        out.magnitude[idx] = magnitude;
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
