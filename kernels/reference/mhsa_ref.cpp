#include "kernels/reference/mhsa_ref.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace hwnas::reference {
namespace {

using Matrix = std::vector<double>;  // row-major

// y[t, o] = sum_i w[o, i] x[t, i] + b[o]; x [rows, in], w [out, in].
Matrix linear(const Matrix& x, std::int64_t rows, std::int64_t in, const ConstTensorView& w,
              const ConstTensorView* b, std::int64_t out) {
  Matrix y(static_cast<std::size_t>(rows * out));
  for (std::int64_t t = 0; t < rows; ++t) {
    for (std::int64_t o = 0; o < out; ++o) {
      double sum = b != nullptr ? at(*b, o) : 0.0;
      for (std::int64_t i = 0; i < in; ++i) {
        sum += at(w, o * in + i) * x[static_cast<std::size_t>(t * in + i)];
      }
      y[static_cast<std::size_t>(t * out + o)] = sum;
    }
  }
  return y;
}

}  // namespace

RefOutput mhsa(const MhsaDesc& d, const ConstTensorView& src, const MixerWeights& weights) {
  const std::string key = to_string(d);
  const std::int64_t c = d.c, tokens = d.h * d.w, hd = c / d.heads, r = d.sr_ratio;
  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  const auto weight = [&](const char* name) { return weights.get(name, key); };
  const ConstTensorView table =
      d.rel_pos == 1 ? weight("relative_position_bias_table") : ConstTensorView();
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, c});
  for (std::int64_t b = 0; b < d.n; ++b) {
    Matrix x(static_cast<std::size_t>(tokens * c));
    for (std::int64_t i = 0; i < tokens * c; ++i) {
      x[static_cast<std::size_t>(i)] = at(src, b * tokens * c + i);
    }
    // q [tokens, c]; k, v [keys, c]; head h owns columns h*hd .. (h+1)*hd of each.
    Matrix q, k, v;
    std::int64_t keys = tokens;
    if (r == 1) {
      const ConstTensorView bias = d.qkv_bias == 1 ? weight("qkv.bias") : ConstTensorView();
      const Matrix qkv =
          linear(x, tokens, c, weight("qkv.weight"), d.qkv_bias == 1 ? &bias : nullptr, 3 * c);
      q.resize(static_cast<std::size_t>(tokens * c));
      k = v = q;
      for (std::int64_t t = 0; t < tokens; ++t) {
        for (std::int64_t i = 0; i < c; ++i) {
          const auto at_t = static_cast<std::size_t>(t * c + i);
          q[at_t] = qkv[static_cast<std::size_t>(t * 3 * c + i)];
          k[at_t] = qkv[static_cast<std::size_t>(t * 3 * c + c + i)];
          v[at_t] = qkv[static_cast<std::size_t>(t * 3 * c + 2 * c + i)];
        }
      }
    } else {
      const ConstTensorView qb = d.qkv_bias == 1 ? weight("q.bias") : ConstTensorView();
      q = linear(x, tokens, c, weight("q.weight"), d.qkv_bias == 1 ? &qb : nullptr, c);
      // sr: Conv2d(c, c, r, stride r, no padding); the output size floors.
      const std::int64_t oh = d.h / r, ow = d.w / r;
      keys = oh * ow;
      const ConstTensorView sw = weight("sr.weight"), sb = weight("sr.bias");
      Matrix reduced(static_cast<std::size_t>(keys * c));
      for (std::int64_t oy = 0; oy < oh; ++oy) {
        for (std::int64_t ox = 0; ox < ow; ++ox) {
          for (std::int64_t o = 0; o < c; ++o) {
            double sum = at(sb, o);
            for (std::int64_t i = 0; i < c; ++i) {
              for (std::int64_t ky = 0; ky < r; ++ky) {
                for (std::int64_t kx = 0; kx < r; ++kx) {
                  sum += at(sw, ((o * c + i) * r + ky) * r + kx) *
                         x[static_cast<std::size_t>(((oy * r + ky) * d.w + ox * r + kx) * c + i)];
                }
              }
            }
            reduced[static_cast<std::size_t>((oy * ow + ox) * c + o)] = sum;
          }
        }
      }
      // LayerNorm(c, eps 1e-5), biased variance.
      const ConstTensorView nw = weight("norm.weight"), nb = weight("norm.bias");
      for (std::int64_t t = 0; t < keys; ++t) {
        double mean = 0, var = 0;
        for (std::int64_t i = 0; i < c; ++i) mean += reduced[static_cast<std::size_t>(t * c + i)];
        mean /= static_cast<double>(c);
        for (std::int64_t i = 0; i < c; ++i) {
          const double e = reduced[static_cast<std::size_t>(t * c + i)] - mean;
          var += e * e;
        }
        var /= static_cast<double>(c);
        for (std::int64_t i = 0; i < c; ++i) {
          double& e = reduced[static_cast<std::size_t>(t * c + i)];
          e = (e - mean) / std::sqrt(var + 1e-5) * at(nw, i) + at(nb, i);
        }
      }
      const ConstTensorView kvb = d.qkv_bias == 1 ? weight("kv.bias") : ConstTensorView();
      const Matrix kv =
          linear(reduced, keys, c, weight("kv.weight"), d.qkv_bias == 1 ? &kvb : nullptr, 2 * c);
      k.resize(static_cast<std::size_t>(keys * c));
      v = k;
      for (std::int64_t t = 0; t < keys; ++t) {
        for (std::int64_t i = 0; i < c; ++i) {
          k[static_cast<std::size_t>(t * c + i)] = kv[static_cast<std::size_t>(t * 2 * c + i)];
          v[static_cast<std::size_t>(t * c + i)] = kv[static_cast<std::size_t>(t * 2 * c + c + i)];
        }
      }
    }
    // Attention per head: a [tokens, c].
    Matrix a(static_cast<std::size_t>(tokens * c), 0.0);
    std::vector<double> p(static_cast<std::size_t>(keys));
    for (std::int64_t h = 0; h < d.heads; ++h) {
      for (std::int64_t i = 0; i < tokens; ++i) {
        double row_max = -INFINITY;
        for (std::int64_t j = 0; j < keys; ++j) {
          double s = 0;
          for (std::int64_t e = 0; e < hd; ++e) {
            s += q[static_cast<std::size_t>(i * c + h * hd + e)] *
                 k[static_cast<std::size_t>(j * c + h * hd + e)];
          }
          s *= scale;
          if (d.rel_pos == 1) {
            const std::int64_t yi = i / d.w, xi = i % d.w, yj = j / d.w, xj = j % d.w;
            const std::int64_t index = (yi - yj + d.h - 1) * (2 * d.w - 1) + (xi - xj + d.w - 1);
            s += at(table, index * d.heads + h);
          }
          p[static_cast<std::size_t>(j)] = s;
          row_max = std::max(row_max, s);
        }
        double sum = 0;
        for (double& e : p) sum += (e = std::exp(e - row_max));
        for (std::int64_t e = 0; e < hd; ++e) {
          double acc = 0;
          for (std::int64_t j = 0; j < keys; ++j) {
            acc += p[static_cast<std::size_t>(j)] * v[static_cast<std::size_t>(j * c + h * hd + e)];
          }
          a[static_cast<std::size_t>(i * c + h * hd + e)] = acc / sum;
        }
      }
    }
    // proj, with magnitudes.
    const ConstTensorView pw = weight("proj.weight"), pb = weight("proj.bias");
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t o = 0; o < c; ++o) {
        double sum = at(pb, o), magnitude = std::abs(at(pb, o));
        for (std::int64_t i = 0; i < c; ++i) {
          const double term = at(pw, o * c + i) * a[static_cast<std::size_t>(t * c + i)];
          sum += term;
          magnitude += std::abs(term);
        }
        const auto idx = static_cast<std::size_t>((b * tokens + t) * c + o);
        out.value[idx] = sum;
        out.magnitude[idx] = magnitude;
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
