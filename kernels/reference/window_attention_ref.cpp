#include "kernels/reference/window_attention_ref.hpp"

#include <algorithm>
#include <cmath>
#include <optional>
#include <utility>
#include <vector>

namespace hwnas::reference {

namespace {

// A Python slice [start:stop] on a sequence of `size`: negative bounds count from the end, None
// (nullopt) is the end. -0 is 0, which is why torchvision's (-shift, None) covers everything when
// shift is 0 in one dimension.
std::pair<std::int64_t, std::int64_t> python_slice(std::int64_t start,
                                                   std::optional<std::int64_t> stop,
                                                   std::int64_t size) {
  const auto clamp = [size](std::int64_t v) {
    return v < 0 ? std::max<std::int64_t>(size + v, 0) : std::min(v, size);
  };
  return {clamp(start), stop ? clamp(*stop) : size};
}

}  // namespace

RefOutput window_attention(const WindowAttentionDesc& d, const ConstTensorView& src,
                           const MixerWeights& weights, ShiftMask mask) {
  const std::string key = to_string(d);
  const std::int64_t n = d.n, h = d.h, w = d.w, c = d.c, heads = d.heads, hd = c / heads;
  const std::int64_t wh = d.window, ww = d.window_w;
  const ConstTensorView qkv_w = weights.get("qkv.weight", key);
  const ConstTensorView proj_w = weights.get("proj.weight", key);
  const ConstTensorView proj_b = weights.get("proj.bias", key);
  const ConstTensorView table = weights.get("relative_position_bias_table", key);
  const bool has_qkv_bias = d.qkv_bias == Bias::Add;
  const ConstTensorView qkv_b = has_qkv_bias ? weights.get("qkv.bias", key) : ConstTensorView();

  // Pad bottom/right with zeros to multiples of the window.
  const std::int64_t pad_b = (wh - h % wh) % wh, pad_r = (ww - w % ww) % ww;
  const std::int64_t ph = h + pad_b, pw = w + pad_r;
  std::vector<double> padded(static_cast<std::size_t>(n * ph * pw * c), 0.0);
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t y = 0; y < h; ++y)
      for (std::int64_t x = 0; x < w; ++x)
        for (std::int64_t ch = 0; ch < c; ++ch)
          padded[static_cast<std::size_t>(((b * ph + y) * pw + x) * c + ch)] =
              at(src, ((b * h + y) * w + x) * c + ch);

  // No shift in a dimension the window covers.
  const std::int64_t sh = wh >= ph ? 0 : d.shift;
  const std::int64_t sw = ww >= pw ? 0 : d.shift_w;
  const bool shifted = sh + sw > 0;

  // Cyclic shift: rolled[y][x] = padded[(y + sh) % ph][(x + sw) % pw] (torch.roll by -shift).
  std::vector<double> rolled(padded.size());
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t y = 0; y < ph; ++y)
      for (std::int64_t x = 0; x < pw; ++x)
        for (std::int64_t ch = 0; ch < c; ++ch)
          rolled[static_cast<std::size_t>(((b * ph + y) * pw + x) * c + ch)] =
              padded[static_cast<std::size_t>(((b * ph + (y + sh) % ph) * pw + (x + sw) % pw) * c +
                                              ch)];

  // The mask's region labels on the rolled map, assigned slice by slice in torchvision's order.
  std::vector<int> label(static_cast<std::size_t>(ph * pw), 0);
  if (shifted) {
    const std::vector<std::pair<std::int64_t, std::optional<std::int64_t>>> h_slices = {
        {0, -wh}, {-wh, -sh}, {-sh, std::nullopt}};
    const std::vector<std::pair<std::int64_t, std::optional<std::int64_t>>> w_slices = {
        {0, -ww}, {-ww, -sw}, {-sw, std::nullopt}};
    int count = 0;
    for (const auto& [h0, h1] : h_slices) {
      for (const auto& [w0, w1] : w_slices) {
        const auto [y0, y1] = python_slice(h0, h1, ph);
        const auto [x0, x1] = python_slice(w0, w1, pw);
        for (std::int64_t y = y0; y < y1; ++y)
          for (std::int64_t x = x0; x < x1; ++x)
            label[static_cast<std::size_t>(y * pw + x)] = count;
        ++count;
      }
    }
  }

  // relative_position_index[i][j] for window tokens i = (iy, ix), j = (jy, jx).
  const std::int64_t tok = wh * ww;
  std::vector<std::int64_t> rel_index(static_cast<std::size_t>(tok * tok));
  for (std::int64_t i = 0; i < tok; ++i)
    for (std::int64_t j = 0; j < tok; ++j) {
      const std::int64_t dy = i / ww - j / ww + wh - 1, dx = i % ww - j % ww + ww - 1;
      rel_index[static_cast<std::size_t>(i * tok + j)] = dy * (2 * ww - 1) + dx;
    }

  const double scale = 1.0 / std::sqrt(static_cast<double>(hd));
  // merged[b][y][x][:]: attention output (heads concatenated) at rolled position (y, x).
  std::vector<double> merged(padded.size(), 0.0);
  std::vector<double> x_win(static_cast<std::size_t>(tok * c));
  std::vector<double> qkv(static_cast<std::size_t>(tok * 3 * c));
  std::vector<double> logits(static_cast<std::size_t>(tok));
  for (std::int64_t b = 0; b < n; ++b) {
    for (std::int64_t wy = 0; wy < ph / wh; ++wy) {
      for (std::int64_t wx = 0; wx < pw / ww; ++wx) {
        // Partition: the window's tokens in row-major order, then the qkv linear on each.
        const auto pos = [&](std::int64_t t) {
          return std::pair{wy * wh + t / ww, wx * ww + t % ww};
        };
        for (std::int64_t t = 0; t < tok; ++t) {
          const auto [y, x] = pos(t);
          for (std::int64_t ch = 0; ch < c; ++ch)
            x_win[static_cast<std::size_t>(t * c + ch)] =
                rolled[static_cast<std::size_t>(((b * ph + y) * pw + x) * c + ch)];
          for (std::int64_t o = 0; o < 3 * c; ++o) {
            double sum = has_qkv_bias ? at(qkv_b, o) : 0.0;
            for (std::int64_t ch = 0; ch < c; ++ch)
              sum += at(qkv_w, o * c + ch) * x_win[static_cast<std::size_t>(t * c + ch)];
            qkv[static_cast<std::size_t>(t * 3 * c + o)] = sum;
          }
        }
        // qkv columns are [3, heads, hd].
        const auto q = [&](std::int64_t t, std::int64_t hh, std::int64_t e) {
          return qkv[static_cast<std::size_t>(t * 3 * c + hh * hd + e)];
        };
        const auto k = [&](std::int64_t t, std::int64_t hh, std::int64_t e) {
          return qkv[static_cast<std::size_t>(t * 3 * c + c + hh * hd + e)];
        };
        const auto v = [&](std::int64_t t, std::int64_t hh, std::int64_t e) {
          return qkv[static_cast<std::size_t>(t * 3 * c + 2 * c + hh * hd + e)];
        };
        for (std::int64_t hh = 0; hh < heads; ++hh) {
          for (std::int64_t i = 0; i < tok; ++i) {
            double row_max = -INFINITY;
            for (std::int64_t j = 0; j < tok; ++j) {
              double dot = 0;
              for (std::int64_t e = 0; e < hd; ++e) dot += q(i, hh, e) * scale * k(j, hh, e);
              dot += at(table, rel_index[static_cast<std::size_t>(i * tok + j)] * heads + hh);
              if (shifted && mask == ShiftMask::Apply) {
                const auto [iy, ix] = pos(i);
                const auto [jy, jx] = pos(j);
                if (label[static_cast<std::size_t>(iy * pw + ix)] !=
                    label[static_cast<std::size_t>(jy * pw + jx)]) {
                  dot += -100.0;
                }
              }
              logits[static_cast<std::size_t>(j)] = dot;
              row_max = std::max(row_max, dot);
            }
            double sum = 0;
            for (double& l : logits) sum += (l = std::exp(l - row_max));
            const auto [y, x] = pos(i);
            for (std::int64_t e = 0; e < hd; ++e) {
              double acc = 0;
              for (std::int64_t j = 0; j < tok; ++j)
                acc += logits[static_cast<std::size_t>(j)] / sum * v(j, hh, e);
              merged[static_cast<std::size_t>(((b * ph + y) * pw + x) * c + hh * hd + e)] = acc;
            }
          }
        }
      }
    }
  }

  // Roll back by +shift, crop, project.
  RefOutput out = RefOutput::of_shape({n, h, w, c});
  for (std::int64_t b = 0; b < n; ++b)
    for (std::int64_t y = 0; y < ph; ++y)
      for (std::int64_t x = 0; x < pw; ++x) {
        const std::int64_t oy = (y + sh) % ph, ox = (x + sw) % pw;
        if (oy >= h || ox >= w) continue;
        const double* a = &merged[static_cast<std::size_t>(((b * ph + y) * pw + x) * c)];
        for (std::int64_t o = 0; o < c; ++o) {
          double sum = at(proj_b, o), magnitude = std::abs(at(proj_b, o));
          for (std::int64_t i = 0; i < c; ++i) {
            const double term = at(proj_w, o * c + i) * a[i];
            sum += term;
            magnitude += std::abs(term);
          }
          const auto idx = static_cast<std::size_t>(((b * h + oy) * w + ox) * c + o);
          out.value[idx] = sum;
          out.magnitude[idx] = magnitude;
        }
      }
  return out;
}

}  // namespace hwnas::reference
