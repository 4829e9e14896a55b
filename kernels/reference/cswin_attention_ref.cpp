#include "kernels/reference/cswin_attention_ref.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

namespace hwnas::reference {

RefOutput cswin_attention(const CswinAttentionDesc& d, const ConstTensorView& src,
                          const MixerWeights& weights, LepeScope lepe) {
  const std::string key = to_string(d);
  const std::int64_t c = d.c, hd = d.c / d.heads, branch_c = d.c / d.branches;
  const std::int64_t branch_heads = d.heads / d.branches;
  // Padded to a multiple of sw in both dimensions; each branch reads only the part it pads into.
  const std::int64_t hp = d.branches == 2 ? (d.h + d.sw - 1) / d.sw * d.sw : d.h;
  const std::int64_t wp = d.branches == 2 ? (d.w + d.sw - 1) / d.sw * d.sw : d.w;
  // Dense float64 copies, so the loops below index plainly.
  const auto dense = [](const ConstTensorView& view) {
    std::vector<double> out(static_cast<std::size_t>(view.numel()));
    for (std::int64_t i = 0; i < view.numel(); ++i) out[static_cast<std::size_t>(i)] = at(view, i);
    return out;
  };
  const std::vector<double> input = dense(src), qkv_w = dense(weights.get("qkv.weight", key));
  const std::vector<double> qkv_b =
      d.qkv_bias == Bias::Add ? dense(weights.get("qkv.bias", key)) : std::vector<double>(3 * c);

  // qkv[b][y][x][j], j < 3c, over the zero-padded map.
  std::vector<double> qkv(static_cast<std::size_t>(d.n * hp * wp * 3 * c));
  const auto qkv_at = [&](std::int64_t b, std::int64_t y, std::int64_t x) {
    return qkv.data() + ((b * hp + y) * wp + x) * 3 * c;
  };
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t y = 0; y < hp; ++y) {
      for (std::int64_t x = 0; x < wp; ++x) {
        double* row = qkv_at(b, y, x);
        for (std::int64_t j = 0; j < 3 * c; ++j) {
          double sum = qkv_b[static_cast<std::size_t>(j)];
          if (y < d.h && x < d.w) {
            const double* in = input.data() + ((b * d.h + y) * d.w + x) * c;
            for (std::int64_t i = 0; i < c; ++i) {
              sum += in[i] * qkv_w[static_cast<std::size_t>(j * c + i)];
            }
          }
          row[j] = sum;
        }
      }
    }
  }

  // a[b][y][x][ch]: the concatenated branch outputs of the real tokens.
  std::vector<double> a(static_cast<std::size_t>(d.n * d.h * d.w * c));
  for (std::int64_t br = 0; br < d.branches; ++br) {
    const CswinBranchGeometry g = cswin_branch_geometry(d, br);
    // The part of the padded map this branch covers: vertical stripes pad only the width,
    // horizontal ones only the height.
    const std::int64_t region_h = g.count * g.step_h > 0 ? g.count * g.step_h : d.h;
    const std::int64_t region_w = g.count * g.step_w > 0 ? g.count * g.step_w : d.w;
    const std::string prefix = fmt::format("attns.{}.get_v.", br);
    const ConstTensorView lepe_w = weights.get(prefix + "weight", key);
    const ConstTensorView lepe_b = weights.get(prefix + "bias", key);
    const std::int64_t t_count = g.tokens();
    for (std::int64_t b = 0; b < d.n; ++b) {
      for (std::int64_t win = 0; win < g.count; ++win) {
        const std::int64_t y0 = win * g.step_h, x0 = win * g.step_w;
        for (std::int64_t head = 0; head < branch_heads; ++head) {
          const std::int64_t ch0 = br * branch_c + head * hd;
          const auto token = [&](std::int64_t t) {
            return qkv_at(b, y0 + t / g.win_w, x0 + t % g.win_w);
          };
          for (std::int64_t t = 0; t < t_count; ++t) {
            const std::int64_t ty = t / g.win_w, tx = t % g.win_w;
            const std::int64_t y = y0 + ty, x = x0 + tx;
            if (y >= d.h || x >= d.w) continue;  // cropped
            const double* q = token(t) + ch0;
            std::vector<double> p(static_cast<std::size_t>(t_count));
            double max_logit = -INFINITY;
            for (std::int64_t u = 0; u < t_count; ++u) {
              const double* k = token(u) + c + ch0;
              double dot = 0;
              for (std::int64_t e = 0; e < hd; ++e) dot += q[e] * k[e];
              p[static_cast<std::size_t>(u)] = dot / std::sqrt(static_cast<double>(hd));
              max_logit = std::max(max_logit, p[static_cast<std::size_t>(u)]);
            }
            double sum = 0;
            for (double& v : p) sum += (v = std::exp(v - max_logit));
            for (std::int64_t e = 0; e < hd; ++e) {
              const std::int64_t ch = head * hd + e;  // within the branch
              double o = 0;
              for (std::int64_t u = 0; u < t_count; ++u) {
                o += p[static_cast<std::size_t>(u)] / sum * token(u)[2 * c + ch0 + e];
              }
              double conv = at(lepe_b, ch);
              for (std::int64_t ky = 0; ky < 3; ++ky) {
                for (std::int64_t kx = 0; kx < 3; ++kx) {
                  const std::int64_t ny = ty + ky - 1, nx = tx + kx - 1;
                  const double wt = at(lepe_w, ch * 9 + ky * 3 + kx);
                  if (lepe == LepeScope::Window) {
                    if (ny < 0 || ny >= g.win_h || nx < 0 || nx >= g.win_w) continue;
                    conv += wt * token(ny * g.win_w + nx)[2 * c + ch0 + e];
                  } else {
                    const std::int64_t my = y0 + ny, mx = x0 + nx;
                    if (my < 0 || my >= region_h || mx < 0 || mx >= region_w) continue;
                    conv += wt * qkv_at(b, my, mx)[2 * c + ch0 + e];
                  }
                }
              }
              a[static_cast<std::size_t>(((b * d.h + y) * d.w + x) * c + ch0 + e)] = o + conv;
            }
          }
        }
      }
    }
  }

  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, c});
  const std::vector<double> proj_w = dense(weights.get("proj.weight", key));
  const std::vector<double> proj_b = dense(weights.get("proj.bias", key));
  for (std::int64_t t = 0; t < d.n * d.h * d.w; ++t) {
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
