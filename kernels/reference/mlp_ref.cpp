#include "kernels/reference/mlp_ref.hpp"

#include <cmath>
#include <vector>

#include "kernels/reference/activation_ref.hpp"

namespace hwnas::reference {

RefOutput mlp(const MlpDesc& d, const ConstTensorView& src, const MixerWeights& weights,
              const ConstTensorView& residual_view) {
  const std::string key = to_string(d);
  const ConstTensorView w1 = weights.get("fc1.weight", key), b1 = weights.get("fc1.bias", key);
  const ConstTensorView w2 = weights.get("fc2.weight", key), b2 = weights.get("fc2.bias", key);
  const ConstTensorView residual = residual_view.empty() ? src : residual_view;
  const std::int64_t c = d.c, hid = mlp_hidden(d), hw = d.h * d.w, t_all = d.n * hw;
  const std::int64_t fc1_out = d.kind == MlpKind::GluMlp ? 2 * hid : hid;
  double star_scale = kStarReluScale, star_bias = kStarReluBias;
  if (d.act == Activation::StarRelu) {
    star_scale = at(weights.get("act.scale", key), 0);
    star_bias = at(weights.get("act.bias", key), 0);
  }
  const auto act = [&](double x) { return activation(d.act, x, star_scale, star_bias); };
  // fc1 for every token: [t_all, fc1_out].
  std::vector<double> h1(static_cast<std::size_t>(t_all * fc1_out));
  for (std::int64_t t = 0; t < t_all; ++t) {
    for (std::int64_t o = 0; o < fc1_out; ++o) {
      double sum = at(b1, o);
      for (std::int64_t i = 0; i < c; ++i) sum += at(w1, o * c + i) * at(src, t * c + i);
      h1[static_cast<std::size_t>(t * fc1_out + o)] = sum;
    }
  }
  ConstTensorView wd, bd;
  if (d.kind == MlpKind::ConvFfn) {
    wd = weights.get("dwconv.dwconv.weight", key);
    bd = weights.get("dwconv.dwconv.bias", key);
  }
  // a: fc2's input [t_all, hid].
  std::vector<double> a(static_cast<std::size_t>(t_all * hid));
  for (std::int64_t t = 0; t < t_all; ++t) {
    const std::int64_t b = t / hw, y = (t % hw) / d.w, x = t % d.w;
    for (std::int64_t j = 0; j < hid; ++j) {
      double v = 0;
      switch (d.kind) {
        case MlpKind::Mlp:
          v = act(h1[static_cast<std::size_t>(t * fc1_out + j)]);
          break;
        case MlpKind::GluMlp:
          v = h1[static_cast<std::size_t>(t * fc1_out + j)] *
              act(h1[static_cast<std::size_t>(t * fc1_out + hid + j)]);
          break;
        case MlpKind::ConvFfn: {
          double sum = at(bd, j);
          for (std::int64_t ky = 0; ky < 3; ++ky) {
            for (std::int64_t kx = 0; kx < 3; ++kx) {
              const std::int64_t yy = y + ky - 1, xx = x + kx - 1;
              if (yy < 0 || yy >= d.h || xx < 0 || xx >= d.w) continue;
              const std::int64_t tt = b * hw + yy * d.w + xx;
              sum += at(wd, j * 9 + ky * 3 + kx) * h1[static_cast<std::size_t>(tt * fc1_out + j)];
            }
          }
          v = act(sum);
          break;
        }
      }
      a[static_cast<std::size_t>(t * hid + j)] = v;
    }
  }
  RefOutput out = RefOutput::of_shape(dst_shape(d));
  for (std::int64_t t = 0; t < t_all; ++t) {
    for (std::int64_t o = 0; o < c; ++o) {
      double sum = at(b2, o), mag = std::abs(at(b2, o));
      for (std::int64_t i = 0; i < hid; ++i) {
        const double term = at(w2, o * hid + i) * a[static_cast<std::size_t>(t * hid + i)];
        sum += term;
        mag += std::abs(term);
      }
      if (d.residual == Residual::ScaledAdd) {
        const double g = at(weights.get("ls.gamma", key), o);
        sum *= g;
        mag *= std::abs(g);
      }
      if (d.residual != Residual::None) {
        const double r = at(residual, t * c + o);
        sum += r;
        mag += std::abs(r);
      }
      out.value[static_cast<std::size_t>(t * c + o)] = sum;
      out.magnitude[static_cast<std::size_t>(t * c + o)] = mag;
    }
  }
  return out;
}

RefOutput mlp(const MlpDesc& d, const ConstTensorView& src, const MixerWeights& weights) {
  return mlp(d, src, weights, ConstTensorView{});
}

}  // namespace hwnas::reference
