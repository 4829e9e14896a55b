#include "kernels/reference/focal_modulation_ref.hpp"

#include <fmt/format.h>

#include <cmath>
#include <vector>

namespace hwnas::reference {
namespace {

double gelu(double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); }

}  // namespace

RefOutput focal_modulation(const FocalModulationDesc& d, const ConstTensorView& src,
                           const MixerWeights& weights) {
  const std::string key = to_string(d);
  const ConstTensorView wf = weights.get("f.weight", key), bf = weights.get("f.bias", key);
  const ConstTensorView wh = weights.get("h.weight", key), bh = weights.get("h.bias", key);
  const ConstTensorView wp = weights.get("proj.weight", key), bp = weights.get("proj.bias", key);
  const std::int64_t c = d.c, hh = d.h, ww = d.w, tokens = hh * ww, levels = d.focal_level;
  const std::int64_t f_out = 2 * c + levels + 1;
  const auto idx = [](std::int64_t i) { return static_cast<std::size_t>(i); };
  RefOutput out = RefOutput::of_shape({d.n, d.h, d.w, d.c});
  std::vector<double> f(idx(tokens * f_out)), ctx(idx(tokens * c)), next(idx(tokens * c));
  std::vector<double> ctx_all(idx(tokens * c)), x_out(idx(tokens * c));
  for (std::int64_t n = 0; n < d.n; ++n) {
    // f = Linear(c, 2c + L + 1): q = f[:, 0:c], ctx = f[:, c:2c], gates = f[:, 2c:].
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t o = 0; o < f_out; ++o) {
        double sum = at(bf, o);
        for (std::int64_t i = 0; i < c; ++i)
          sum += at(wf, o * c + i) * at(src, (n * tokens + t) * c + i);
        f[idx(t * f_out + o)] = sum;
      }
      for (std::int64_t i = 0; i < c; ++i) {
        ctx[idx(t * c + i)] = f[idx(t * f_out + c + i)];
        ctx_all[idx(t * c + i)] = 0;
      }
    }
    const auto gate = [&](std::int64_t t, std::int64_t l) { return f[idx(t * f_out + 2 * c + l)]; };
    for (std::int64_t l = 0; l < levels; ++l) {
      const std::int64_t k = focal_kernel(d, l), pad = k / 2;
      const ConstTensorView wl = weights.get(fmt::format("focal_layers.{}.0.weight", l), key);
      for (std::int64_t y = 0; y < hh; ++y) {
        for (std::int64_t x = 0; x < ww; ++x) {
          for (std::int64_t ch = 0; ch < c; ++ch) {
            double sum = 0;
            for (std::int64_t ky = 0; ky < k; ++ky) {
              for (std::int64_t kx = 0; kx < k; ++kx) {
                const std::int64_t sy = y + ky - pad, sx = x + kx - pad;
                if (sy < 0 || sy >= hh || sx < 0 || sx >= ww) continue;
                sum += at(wl, (ch * k + ky) * k + kx) * ctx[idx((sy * ww + sx) * c + ch)];
              }
            }
            next[idx((y * ww + x) * c + ch)] = gelu(sum);
          }
        }
      }
      ctx.swap(next);
      for (std::int64_t t = 0; t < tokens; ++t) {
        for (std::int64_t ch = 0; ch < c; ++ch)
          ctx_all[idx(t * c + ch)] += ctx[idx(t * c + ch)] * gate(t, l);
      }
    }
    for (std::int64_t ch = 0; ch < c; ++ch) {
      double mean = 0;
      for (std::int64_t t = 0; t < tokens; ++t) mean += ctx[idx(t * c + ch)];
      const double global = gelu(mean / static_cast<double>(tokens));
      for (std::int64_t t = 0; t < tokens; ++t)
        ctx_all[idx(t * c + ch)] += global * gate(t, levels);
    }
    // modulator = h(ctx_all), a 1x1 conv; x_out = q * modulator.
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t o = 0; o < c; ++o) {
        double sum = at(bh, o);
        for (std::int64_t i = 0; i < c; ++i) sum += at(wh, o * c + i) * ctx_all[idx(t * c + i)];
        x_out[idx(t * c + o)] = f[idx(t * f_out + o)] * sum;
      }
    }
    for (std::int64_t t = 0; t < tokens; ++t) {
      for (std::int64_t o = 0; o < c; ++o) {
        double sum = at(bp, o), magnitude = std::abs(at(bp, o));
        for (std::int64_t i = 0; i < c; ++i) {
          const double term = at(wp, o * c + i) * x_out[idx(t * c + i)];
          sum += term;
          magnitude += std::abs(term);
        }
        out.value[idx((n * tokens + t) * c + o)] = sum;
        out.magnitude[idx((n * tokens + t) * c + o)] = magnitude;
      }
    }
  }
  return out;
}

}  // namespace hwnas::reference
