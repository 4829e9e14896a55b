// A float64 reference of a whole Arch for the subnet tests, written from docs/arch.md without the
// supernet's walk: the registries' float64 references chained (MixerEntry::reference, the MLP,
// conv, linear, layer/batch/group norm references) with double loops for the stem BatchNorm, the
// patch-merging gather, the residual units, the pooling and the head.
//
// Between ops the values are rounded to f32 (each registry reference takes an f32 view), a
// relative 6e-8 per op: far below the f32 network's own error, which the test bounds.
//
// Weights are read whole by name from a store that holds exactly this arch's shapes
// (make_weight_store), so the reference does not depend on WeightStore slicing.
#pragma once

#include <fmt/format.h>

#include <cmath>
#include <string>
#include <vector>

#include "kernels/layers/mlp.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/ops/batch_norm.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/ops/group_norm.hpp"
#include "kernels/ops/layer_norm.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/reference/activation_ref.hpp"
#include "kernels/reference/batch_norm_ref.hpp"
#include "kernels/reference/conv2d_ref.hpp"
#include "kernels/reference/group_norm_ref.hpp"
#include "kernels/reference/layer_norm_ref.hpp"
#include "kernels/reference/linear_ref.hpp"
#include "kernels/reference/mlp_ref.hpp"
#include "supernet/arch.hpp"
#include "supernet/weight_store.hpp"

namespace hwnas::testing::subnet_ref {

inline Tensor to_f32(const std::vector<double>& values, const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) {
    t.f32()[i] = static_cast<float>(values[static_cast<std::size_t>(i)]);
  }
  return t;
}

inline Tensor to_f32(const reference::RefOutput& out, const Shape& shape) {
  return to_f32(out.value, shape);
}

class Reference {
 public:
  explicit Reference(const WeightStore& store) : store_(store) {}

  // images [n, r, r, in_chans] -> logits [n, num_classes], in double.
  std::vector<double> logits(const Arch& arch, const Tensor& images) const {
    Tensor x = stem(arch.stem, images);
    for (std::size_t s = 0; s < arch.stages.size(); ++s) {
      const StageSpec& stage = arch.stages[s];
      const std::string prefix = fmt::format("stages.{}.", s);
      if (stage.downsample)
        x = downsample(*stage.downsample, prefix + "downsample.", x, stage.width);
      for (std::size_t b = 0; b < stage.blocks.size(); ++b) {
        for (std::size_t u = 0; u < stage.blocks[b].units.size(); ++u) {
          x = unit(stage.blocks[b].units[u], fmt::format("{}blocks.{}.{}.", prefix, b, u), x);
        }
      }
    }
    return head(arch.head, x);
  }

 private:
  ConstTensorView w(const std::string& name) const { return store_.tensor(name); }

  Tensor norm(const NormSpec& spec, const std::string& prefix, const Tensor& x) const {
    const Shape shape = x.shape();
    const std::int64_t c = shape[shape.rank() - 1], rows = x.numel() / c;
    const float eps = static_cast<float>(spec.eps);
    const auto affine = spec.bias ? LayerNormAffine::ScaleShift : LayerNormAffine::Scale;
    const ConstTensorView beta = spec.bias ? w(prefix + "bias") : ConstTensorView{};
    switch (spec.kind) {
      case NormKind::LayerNorm:
        return to_f32(reference::layer_norm({.rows = rows, .c = c, .eps = eps, .affine = affine},
                                            x.cview(), w(prefix + "weight"), beta),
                      shape);
      case NormKind::BatchNorm: {
        const Tensor zeros = Tensor::zeros({c});
        return to_f32(
            reference::batch_norm({.n = rows, .h = 1, .w = 1, .c = c, .eps = eps}, x.cview(),
                                  {.mean = w(prefix + "running_mean"),
                                   .var = w(prefix + "running_var"),
                                   .gamma = w(prefix + "weight"),
                                   .beta = spec.bias ? beta : zeros.cview()}),
            shape);
      }
      case NormKind::GroupNorm1: {
        // One group per image: statistics over everything but the batch axis.
        const std::int64_t n = shape[0], pixels = rows / n;
        return to_f32(reference::group_norm(
                          {.n = n, .h = pixels, .w = 1, .c = c, .eps = eps, .affine = affine},
                          x.cview().reshape({n, pixels, 1, c}), w(prefix + "weight"), beta),
                      shape);
      }
    }
    return {};
  }

  // conv (+ BatchNorm eps 1e-5, unfolded) (+ act), PyTorch order.
  Tensor conv(const Tensor& x, const std::string& prefix, std::int64_t out, std::int64_t k,
              std::int64_t stride, std::int64_t pad, bool bias, bool bn, Activation act) const {
    const Conv2dDesc d{.n = x.shape()[0],
                       .h = x.shape()[1],
                       .w = x.shape()[2],
                       .ic = x.shape()[3],
                       .oc = out,
                       .kh = k,
                       .kw = k,
                       .stride_h = stride,
                       .stride_w = stride,
                       .pad_h = pad,
                       .pad_w = pad,
                       .bias = bias ? Bias::Add : Bias::None};
    reference::RefOutput y = reference::conv2d(d, x.cview(), w(prefix + "weight"),
                                               bias ? w(prefix + "bias") : ConstTensorView{});
    for (std::size_t i = 0; i < y.value.size(); ++i) {
      const auto o = static_cast<std::int64_t>(i % static_cast<std::size_t>(out));
      double v = y.value[i];
      if (bn) {
        const auto e = [&](const char* name) { return reference::at(w(prefix + name), o); };
        v = (v - e("bn.running_mean")) / std::sqrt(e("bn.running_var") + 1e-5) * e("bn.weight") +
            e("bn.bias");
      }
      y.value[i] = reference::activation(act, v);
    }
    return to_f32(y, conv2d_dst_shape(d));
  }

  Tensor stem(const StemSpec& stem, const Tensor& images) const {
    Tensor x = images.clone();
    for (std::size_t i = 0; i < stem.convs.size(); ++i) {
      const StemConv& c = stem.convs[i];
      x = conv(x, fmt::format("stem.convs.{}.", i), c.out, c.kernel, c.stride, c.pad, c.bias, c.bn,
               i + 1 < stem.convs.size() ? stem.act : Activation::None);
    }
    return stem.norm ? norm(*stem.norm, "stem.norm.", x) : std::move(x);
  }

  // conv with bias (a Conv2d_BN with its BN folded) and groups, then act, PyTorch order.
  Tensor grouped_conv(const Tensor& x, const std::string& prefix, std::int64_t out, std::int64_t k,
                      std::int64_t stride, std::int64_t pad, std::int64_t groups,
                      Activation act) const {
    const Conv2dDesc d{.n = x.shape()[0],
                       .h = x.shape()[1],
                       .w = x.shape()[2],
                       .ic = x.shape()[3],
                       .oc = out,
                       .kh = k,
                       .kw = k,
                       .stride_h = stride,
                       .stride_w = stride,
                       .pad_h = pad,
                       .pad_w = pad,
                       .groups = groups};
    reference::RefOutput y =
        reference::conv2d(d, x.cview(), w(prefix + "weight"), w(prefix + "bias"));
    for (double& v : y.value) v = reference::activation(act, v);
    return to_f32(y, conv2d_dst_shape(d));
  }

  // EfficientViT's / SHViT's PatchMerging, written from timm's PatchMerging and SqueezeExcite:
  // conv1 1x1 + ReLU, depthwise conv2 3x3 s2 p1 + ReLU, x * sigmoid(fc2(relu(fc1(mean_hw(x))))),
  // conv3 1x1.
  Tensor se_patch_merging(const DownsampleSpec& spec, const std::string& prefix, const Tensor& x,
                          std::int64_t width) const {
    const std::int64_t hid = spec.expand * x.shape()[3];
    Tensor y = grouped_conv(x, prefix + "conv1.", hid, 1, 1, 0, 1, Activation::Relu);
    y = grouped_conv(y, prefix + "conv2.", hid, 3, 2, 1, hid, Activation::Relu);
    const std::int64_t n = y.shape()[0], pixels = y.shape()[1] * y.shape()[2];
    std::vector<double> pooled(static_cast<std::size_t>(n * hid), 0.0);
    for (std::int64_t i = 0; i < y.numel(); ++i) {
      pooled[static_cast<std::size_t>((i / (pixels * hid)) * hid + i % hid)] += y.f32()[i];
    }
    for (double& v : pooled) v /= static_cast<double>(pixels);
    const std::int64_t rd = se_channels(hid, spec.se_ratio);
    const Tensor squeezed =
        linear(to_f32(pooled, {n, hid}), prefix + "se.fc1.", rd, Activation::Relu);
    const Tensor logits = linear(squeezed, prefix + "se.fc2.", hid, Activation::None);
    std::vector<double> scaled(static_cast<std::size_t>(y.numel()));
    for (std::int64_t i = 0; i < y.numel(); ++i) {
      const double z = logits.f32()[(i / (pixels * hid)) * hid + i % hid];
      scaled[static_cast<std::size_t>(i)] = y.f32()[i] / (1.0 + std::exp(-z));
    }
    y = to_f32(scaled, y.shape());
    return grouped_conv(y, prefix + "conv3.", width, 1, 1, 0, 1, Activation::None);
  }

  Tensor downsample(const DownsampleSpec& spec, const std::string& prefix, const Tensor& x,
                    std::int64_t width) const {
    if (spec.kind == DownsampleKind::SePatchMerging)
      return se_patch_merging(spec, prefix, x, width);
    if (spec.kind == DownsampleKind::Conv) {
      const bool pre = spec.norm && spec.norm_place == NormPlacement::Pre;
      Tensor y = pre ? norm(*spec.norm, prefix + "norm.", x) : x.clone();
      y = conv(y, prefix + "proj.", width, spec.kernel, spec.stride, spec.pad, spec.bias, false,
               Activation::None);
      return spec.norm && !pre ? norm(*spec.norm, prefix + "norm.", y) : std::move(y);
    }
    // Swin PatchMerging: zero-pad to even h, w; cat(x[0::2, 0::2], x[1::2, 0::2], x[0::2, 1::2],
    // x[1::2, 1::2]); LayerNorm(4c, eps 1e-5); Linear 4c -> width, no bias.
    const std::int64_t n = x.shape()[0], h = x.shape()[1], wd = x.shape()[2], c = x.shape()[3];
    const std::int64_t oh = (h + 1) / 2, ow = (wd + 1) / 2;
    Tensor g = Tensor::zeros({n, oh, ow, 4 * c});
    const std::int64_t dy[] = {0, 1, 0, 1}, dx[] = {0, 0, 1, 1};
    for (std::int64_t b = 0; b < n; ++b) {
      for (std::int64_t i = 0; i < oh; ++i) {
        for (std::int64_t j = 0; j < ow; ++j) {
          for (int k = 0; k < 4; ++k) {
            const std::int64_t y = 2 * i + dy[k], xx = 2 * j + dx[k];
            if (y >= h || xx >= wd) continue;
            for (std::int64_t ch = 0; ch < c; ++ch) {
              g.f32()[((b * oh + i) * ow + j) * 4 * c + k * c + ch] =
                  x.f32()[((b * h + y) * wd + xx) * c + ch];
            }
          }
        }
      }
    }
    const Tensor normed = norm({.kind = NormKind::LayerNorm, .eps = 1e-5}, prefix + "norm.", g);
    const std::int64_t t = n * oh * ow;
    return to_f32(reference::linear({.m = t, .k = 4 * c, .n = width, .bias = Bias::None},
                                    normed.cview(), w(prefix + "reduction.weight"), {}),
                  {n, oh, ow, width});
  }

  MixerWeights weights_of(const std::vector<WeightSpec>& specs, const std::string& prefix) const {
    MixerWeights out;
    for (const WeightSpec& spec : specs) out.set(spec.name, w(prefix + spec.name));
    return out;
  }

  Tensor unit(const UnitSpec& unit, const std::string& prefix, const Tensor& x) const {
    const Shape shape = x.shape();
    Tensor v = x.clone();
    for (const UnitOp& op : unit.ops) {
      if (op.norm) {
        v = norm(*op.norm, prefix + "norm.", v);
      } else if (op.mixer) {
        const MixerEntry& entry = find_mixer(op.mixer->name);
        std::vector<std::string> words = {
            fmt::format("n={}", shape[0]), fmt::format("h={}", shape[1]),
            fmt::format("w={}", shape[2]), fmt::format("c={}", shape[3])};
        for (const auto& [k, val] : op.mixer->params) words.push_back(k + "=" + val);
        const Params p = Params::parse(entry.name, entry.params, words);
        const MixerWeights mw =
            weights_of(entry.weights(p), fmt::format("{}mixer.{}.", prefix, entry.name));
        v = to_f32(entry.reference(p, v.cview(), mw), shape);
      } else {
        MlpKind kind = MlpKind::Mlp;
        if (op.mlp->kind == "conv_ffn") kind = MlpKind::ConvFfn;
        if (op.mlp->kind == "glu_mlp") kind = MlpKind::GluMlp;
        const MlpDesc d{.kind = kind,
                        .n = shape[0],
                        .h = shape[1],
                        .w = shape[2],
                        .c = shape[3],
                        .ratio = op.mlp->ratio,
                        .act = op.mlp->act};
        v = to_f32(reference::mlp(d, v.cview(), weights_of(weight_specs(d), prefix + "mlp.")),
                   shape);
      }
    }
    if (!unit.residual && !unit.layer_scale) return v;
    const std::int64_t c = shape[3];
    std::vector<double> out(static_cast<std::size_t>(x.numel()));
    for (std::int64_t i = 0; i < x.numel(); ++i) {
      const std::int64_t ch = i % c;
      const double ls = unit.layer_scale ? reference::at(w(prefix + "layer_scale.gamma"), ch) : 1.0;
      const double rs = unit.res_scale ? reference::at(w(prefix + "res_scale.scale"), ch) : 1.0;
      const double residual = unit.residual ? rs * static_cast<double>(x.f32()[i]) : 0.0;
      out[static_cast<std::size_t>(i)] = residual + ls * static_cast<double>(v.f32()[i]);
    }
    return to_f32(out, shape);
  }

  Tensor linear(const Tensor& x, const std::string& prefix, std::int64_t out,
                Activation act) const {
    const std::int64_t n = x.shape()[0], k = x.shape()[1];
    return to_f32(reference::linear({.m = n, .k = k, .n = out, .act = act}, x.cview(),
                                    w(prefix + "weight"), w(prefix + "bias")),
                  {n, out});
  }

  std::vector<double> head(const HeadSpec& head, const Tensor& features) const {
    const bool before = head.norm && head.norm_place == HeadNormPlace::BeforePool;
    const Tensor x = before ? norm(*head.norm, "head.norm.", features) : features.clone();
    const std::int64_t n = x.shape()[0], pixels = x.shape()[1] * x.shape()[2], c = x.shape()[3];
    std::vector<double> pooled(static_cast<std::size_t>(n * c), 0.0);
    for (std::int64_t b = 0; b < n; ++b) {
      for (std::int64_t p = 0; p < pixels; ++p) {
        for (std::int64_t ch = 0; ch < c; ++ch) {
          pooled[static_cast<std::size_t>(b * c + ch)] += x.f32()[(b * pixels + p) * c + ch];
        }
      }
    }
    for (double& v : pooled) v /= static_cast<double>(pixels);
    Tensor y = to_f32(pooled, {n, c});
    if (head.norm && !before) y = norm(*head.norm, "head.norm.", y);
    if (head.hidden > 0) {
      y = linear(y, "head.fc1.", head.hidden, head.hidden_act);
      if (head.hidden_norm) y = norm(*head.hidden_norm, "head.hidden_norm.", y);
    }
    const std::int64_t k = y.shape()[1];
    return reference::linear({.m = n, .k = k, .n = head.num_classes}, y.cview(),
                             w("head.fc.weight"), w("head.fc.bias"))
        .value;
  }

  const WeightStore& store_;
};

}  // namespace hwnas::testing::subnet_ref
