#include "kernels/reference/layer_ref_util.hpp"

#include <algorithm>
#include <cmath>

#include "kernels/reference/activation_ref.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

DoubleMap to_double(const ConstTensorView& src) {
  DoubleMap m{.n = src.dim(0),
              .h = src.dim(1),
              .w = src.dim(2),
              .c = src.dim(3),
              .value = {},
              .magnitude = {}};
  const std::int64_t total = src.numel();
  m.value.resize(static_cast<std::size_t>(total));
  for (std::int64_t i = 0; i < total; ++i) m.value[static_cast<std::size_t>(i)] = at(src, i);
  m.magnitude.assign(m.value.size(), 0.0);
  return m;
}

DoubleMap conv(const DoubleMap& src, const ConstTensorView& weights, const ConstTensorView& bias,
               std::int64_t k, std::int64_t stride, std::int64_t pad, Activation act) {
  const std::int64_t oc = weights.dim(0), ic = src.c;
  DoubleMap out{.n = src.n,
                .h = (src.h + 2 * pad - k) / stride + 1,
                .w = (src.w + 2 * pad - k) / stride + 1,
                .c = oc,
                .value = {},
                .magnitude = {}};
  out.value.resize(static_cast<std::size_t>(out.n * out.h * out.w * oc));
  out.magnitude.resize(out.value.size());
  for (std::int64_t b = 0; b < out.n; ++b) {
    for (std::int64_t oy = 0; oy < out.h; ++oy) {
      for (std::int64_t ox = 0; ox < out.w; ++ox) {
        for (std::int64_t o = 0; o < oc; ++o) {
          double sum = at(bias, o), mag = std::abs(at(bias, o));
          for (std::int64_t ky = 0; ky < k; ++ky) {
            const std::int64_t y = oy * stride + ky - pad;
            if (y < 0 || y >= src.h) continue;
            for (std::int64_t kx = 0; kx < k; ++kx) {
              const std::int64_t x = ox * stride + kx - pad;
              if (x < 0 || x >= src.w) continue;
              for (std::int64_t i = 0; i < ic; ++i) {
                const double term =
                    at(weights, ((o * ic + i) * k + ky) * k + kx) *
                    src.value[static_cast<std::size_t>(((b * src.h + y) * src.w + x) * ic + i)];
                sum += term;
                mag += std::abs(term);
              }
            }
          }
          const auto idx = static_cast<std::size_t>(((b * out.h + oy) * out.w + ox) * oc + o);
          out.value[idx] = activation(act, sum);
          out.magnitude[idx] = mag;
        }
      }
    }
  }
  return out;
}

void layer_norm(DoubleMap& m, const ConstTensorView& gamma, const ConstTensorView& beta,
                double eps) {
  const std::int64_t rows = m.n * m.h * m.w, c = m.c;
  for (std::int64_t r = 0; r < rows; ++r) {
    double* v = m.value.data() + r * c;
    double* mag = m.magnitude.data() + r * c;
    double mean = 0, var = 0, mag_max = 0;
    for (std::int64_t i = 0; i < c; ++i) mean += v[i];
    mean /= static_cast<double>(c);
    for (std::int64_t i = 0; i < c; ++i) var += (v[i] - mean) * (v[i] - mean);
    var /= static_cast<double>(c);
    for (std::int64_t i = 0; i < c; ++i) mag_max = std::max(mag_max, mag[i]);
    const double rstd = 1.0 / std::sqrt(var + eps);
    for (std::int64_t i = 0; i < c; ++i) {
      const double xhat = (v[i] - mean) * rstd, g = at(gamma, i), bt = at(beta, i);
      v[i] = xhat * g + bt;
      mag[i] = std::abs(g) * (std::abs(xhat) + mag_max * rstd) + std::abs(bt);
    }
  }
}

}  // namespace hwnas::reference
