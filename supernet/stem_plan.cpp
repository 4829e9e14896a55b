// The stem and the downsampling layers of the walk (net_graph.hpp; docs/arch.md "Stem",
// "Downsample").
//
// Where an Arch's stem or downsample is exactly a layer of kernels/layers (patch_embed,
// conv_downsample, patch_merging), that layer runs it, so its key joins the layer sweeps. Any
// other form is composed of Conv2dPlans and norm ops: each conv's BatchNorm folded into it at build
// (fold_batch_norm, eps 1e-5 = PyTorch's default: StemConv carries none), the activation between
// stem convs fused into the conv. The SE patch merging is composed of Conv2dPlans (its BatchNorms
// already folded: the store holds the conv biases) and one squeeze-excite op.
#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "kernels/error.hpp"
#include "kernels/layers/conv_downsample.hpp"
#include "kernels/layers/patch_merging.hpp"
#include "kernels/layers/stem.hpp"
#include "kernels/ops/batch_norm.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/ops/global_avg_pool.hpp"
#include "kernels/ops/layer_norm.hpp"
#include "kernels/ops/linear.hpp"
#include "supernet/net_graph.hpp"

namespace hwnas::net {
namespace {

constexpr float kStemBatchNormEps = 1e-5f;

// A layer whose plan takes a MixerWeights of its own names, registered under store names.
template <typename Desc, typename Plan>
StepFactory layer_factory(const Desc& desc) {
  return [desc](const Engine& engine, const MixerWeights& w) {
    return make_step(Plan::create(engine, desc, w));
  };
}

std::vector<WeightUse> renamed(std::vector<WeightSpec> specs,
                               const std::vector<std::pair<std::string, std::string>>& names) {
  std::vector<WeightUse> out;
  for (WeightSpec& spec : specs) {
    const auto it = std::find_if(names.begin(), names.end(),
                                 [&](const auto& p) { return p.first == spec.name; });
    out.push_back({.store_name = it->second, .spec = std::move(spec)});
  }
  return out;
}

std::vector<WeightUse> prefixed(std::vector<WeightSpec> specs, const std::string& prefix) {
  std::vector<WeightUse> out;
  for (WeightSpec& spec : specs) {
    std::string name = prefix + spec.name;
    out.push_back({.store_name = std::move(name), .spec = std::move(spec)});
  }
  return out;
}

// One conv of a composed stem or downsample: weights "weight" [oc, ic, k, k], "bias" [oc] when
// `bias`, and "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var" when `bn` (folded).
void add_conv(GraphBuilder& builder, const std::string& name, const std::string& kind,
              const std::string& prefix, Conv2dDesc desc, bool bias, bool bn) {
  desc.bias = bias || bn ? Bias::Add : Bias::None;
  check(desc);
  NetOp op{.name = name,
           .kind = kind,
           .key = to_string(desc),
           .cost = cost(desc),
           .in = builder.current(),
           .observed = keeps_sign(desc.act) ? Observed::Output : Observed::None};
  op.cost.params = desc.oc * (desc.ic / desc.groups) * desc.kh * desc.kw + (bias ? desc.oc : 0) +
                   (bn ? 2 * desc.oc : 0);
  const auto add = [&](std::string local, Shape shape, WeightKind kind_of, bool buffer = false) {
    op.weights.push_back({.store_name = prefix + local,
                          .spec = {.name = std::move(local), .shape = shape, .kind = kind_of},
                          .buffer = buffer});
  };
  add("weight", conv2d_weights_shape(desc), WeightKind::Matrix);
  if (bias) add("bias", {desc.oc}, WeightKind::Bias);
  if (bn) {
    add("bn.weight", {desc.oc}, WeightKind::NormScale);
    add("bn.bias", {desc.oc}, WeightKind::NormShift);
    add("bn.running_mean", {desc.oc}, WeightKind::NormShift, true);
    add("bn.running_var", {desc.oc}, WeightKind::NormScale, true);
  }
  op.create = [desc, bias, bn](const Engine& engine, const MixerWeights& w) {
    const std::string key = to_string(desc);
    const Conv2dOptions options{.onednn_algorithm = ConvAlgorithm::Direct};
    const ConstTensorView b = bias ? w.get("bias", key) : ConstTensorView{};
    if (!bn) return make_step(Conv2dPlan::create(engine, desc, w.get("weight", key), b, options));
    const FoldedConv folded = fold_batch_norm(w.get("weight", key), b,
                                              {.mean = w.get("bn.running_mean", key),
                                               .var = w.get("bn.running_var", key),
                                               .gamma = w.get("bn.weight", key),
                                               .beta = w.get("bn.bias", key)},
                                              kStemBatchNormEps);
    return make_step(
        Conv2dPlan::create(engine, desc, folded.weights.cview(), folded.bias.cview(), options));
  };
  const Shape out{desc.n, conv2d_out_h(desc), conv2d_out_w(desc), desc.oc};
  builder.add(std::move(op), out);
}

bool is_patch_embed(const StemSpec& stem) {
  if (stem.convs.size() != 1) return false;
  const StemConv& c = stem.convs[0];
  const bool norm_fits =
      !stem.norm || (stem.norm->kind == NormKind::LayerNorm && stem.norm->bias &&
                     static_cast<float>(stem.norm->eps) == static_cast<float>(kPatchEmbedEps));
  return c.kernel == c.stride && c.pad == 0 && c.bias && !c.bn && norm_fits;
}

// Swin's PatchMerging at any output width: the 2x2 gather (zero-padded to even h, w; torchvision's
// x0, x1, x2, x3 order), LayerNorm(4c), Linear 4c -> out_c without bias. PatchMergingPlan fixes
// out_c = 2c; this composes the same three steps for the other widths.
class PatchMergingStep final : public Step {
 public:
  PatchMergingStep(const Engine& engine, const PatchMergingDesc& d, std::int64_t out_c,
                   const MixerWeights& w)
      : d_(d), threads_(engine.threads()) {
    const std::string key = to_string(d);
    const std::int64_t oh = (d.h + 1) / 2, ow = (d.w + 1) / 2, t = d.n * oh * ow;
    norm_.emplace(LayerNormPlan::create(
        engine, {.rows = t, .c = 4 * d.c, .eps = static_cast<float>(kPatchMergingEps)},
        w.get("norm.weight", key), w.get("norm.bias", key)));
    reduction_.emplace(LinearPlan::create(engine,
                                          {.m = t, .k = 4 * d.c, .n = out_c, .bias = Bias::None},
                                          w.get("reduction.weight", key)));
    gathered_ = Tensor::empty({d.n, oh, ow, 4 * d.c});
  }
  void run(ConstTensorView src, ConstTensorView, TensorView dst) const override {
    const std::int64_t h = d_.h, w = d_.w, c = d_.c, oh = (h + 1) / 2, ow = (w + 1) / 2;
    const float* x = src.f32();
    float* g = gathered_.f32();
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (std::int64_t row = 0; row < d_.n * oh; ++row) {
      const std::int64_t b = row / oh, i = row % oh;
      for (std::int64_t j = 0; j < ow; ++j) {
        float* out = g + ((row * ow) + j) * 4 * c;
        // torchvision: x0 = x[0::2, 0::2], x1 = x[1::2, 0::2], x2 = x[0::2, 1::2], x3 = x[1::2,
        // 1::2]
        const std::int64_t dy[] = {0, 1, 0, 1}, dx[] = {0, 0, 1, 1};
        for (int k = 0; k < 4; ++k) {
          const std::int64_t y = 2 * i + dy[k], xx = 2 * j + dx[k];
          float* seg = out + k * c;
          if (y < h && xx < w) {
            const float* in = x + ((b * h + y) * w + xx) * c;
            std::copy(in, in + c, seg);
          } else {
            std::fill(seg, seg + c, 0.f);
          }
        }
      }
    }
    norm_->run(gathered_.cview(), gathered_.view());
    reduction_->run(gathered_.cview(), dst);
  }

 private:
  PatchMergingDesc d_;
  int threads_ = 1;
  std::optional<LayerNormPlan> norm_;
  std::optional<LinearPlan> reduction_;
  mutable Tensor gathered_;
};

// timm's SqueezeExcite on NHWC [n, h, w, c]: s = sigmoid(fc2(relu(fc1(mean_hw(x))))), y = x * s
// per image and channel. fc1/fc2 are 1x1 convs written in Linear layout [out, in]; the sigmoid is
// fused into fc2. dst may be src: the gate is computed before the scale pass writes.
class SqueezeExciteStep final : public Step {
 public:
  static constexpr std::string_view kName = "squeeze_excite";

  SqueezeExciteStep(const Engine& engine, const Nhwc& s, std::int64_t rd, const MixerWeights& w)
      : s_(s), threads_(engine.threads()) {
    const std::string key = se_key(s, rd);
    pool_.emplace(GlobalAvgPoolPlan::create(engine, pool_desc(s)));
    fc1_.emplace(LinearPlan::create(engine, fc1_desc(s, rd), w.get("fc1.weight", key),
                                    w.get("fc1.bias", key)));
    fc2_.emplace(LinearPlan::create(engine, fc2_desc(s, rd), w.get("fc2.weight", key),
                                    w.get("fc2.bias", key)));
    pooled_ = Tensor::empty({s.n, s.c});
    squeezed_ = Tensor::empty({s.n, rd});
    gate_ = Tensor::empty({s.n, s.c});
  }

  static GlobalAvgPoolDesc pool_desc(const Nhwc& s) {
    return {.n = s.n, .h = s.h, .w = s.w, .c = s.c};
  }
  static LinearDesc fc1_desc(const Nhwc& s, std::int64_t rd) {
    return {.m = s.n, .k = s.c, .n = rd, .act = Activation::Relu};
  }
  static LinearDesc fc2_desc(const Nhwc& s, std::int64_t rd) {
    return {.m = s.n, .k = rd, .n = s.c, .act = Activation::Sigmoid};
  }
  static std::string se_key(const Nhwc& s, std::int64_t rd) {
    return fmt::format("{}:n={},h={},w={},c={},rd={}", kName, s.n, s.h, s.w, s.c, rd);
  }
  static OpCost se_cost(const Nhwc& s, std::int64_t rd) {
    const OpCost pool = cost(pool_desc(s)), fc1 = cost(fc1_desc(s, rd)),
                 fc2 = cost(fc2_desc(s, rd));
    const double map = static_cast<double>(s.n * s.h * s.w * s.c);
    return {.flops = pool.flops + fc1.flops + fc2.flops + map,  // + one multiply per element
            .bytes = pool.bytes + fc1.bytes + fc2.bytes + 4.0 * 2.0 * map,
            .params = fc1.params + fc2.params};
  }

  void run(ConstTensorView src, ConstTensorView, TensorView dst) const override {
    pool_->run(src, pooled_.view());
    fc1_->run(pooled_.cview(), squeezed_.view());
    fc2_->run(squeezed_.cview(), gate_.view());
    const std::int64_t c = s_.c, pixels = s_.h * s_.w;
    const float* x = src.f32();
    const float* g = gate_.f32();
    float* y = dst.f32();
#pragma omp parallel for num_threads(threads_) schedule(static)
    for (std::int64_t row = 0; row < s_.n * pixels; ++row) {
      const float* gate = g + (row / pixels) * c;
      const float* in = x + row * c;
      float* out = y + row * c;
      for (std::int64_t ch = 0; ch < c; ++ch) out[ch] = in[ch] * gate[ch];
    }
  }

 private:
  Nhwc s_;
  int threads_ = 1;
  std::optional<GlobalAvgPoolPlan> pool_;
  std::optional<LinearPlan> fc1_, fc2_;
  mutable Tensor pooled_, squeezed_, gate_;
};

// EfficientViT's / SHViT's PatchMerging (DownsampleKind::SePatchMerging): four ops so the
// per-layer breakdown shows where its time goes.
void add_se_patch_merging(GraphBuilder& builder, const std::string& name,
                          const DownsampleSpec& spec, std::int64_t width) {
  const Nhwc s = nhwc_of(builder.shape(builder.current()));
  const std::string prefix = name + ".";
  const std::int64_t hid = spec.expand * s.c;
  const Conv2dDesc pw{.n = s.n, .h = s.h, .w = s.w, .ic = s.c, .oc = hid, .act = Activation::Relu};
  add_conv(builder, name + ".conv1", "downsample", prefix + "conv1.", pw, true, false);
  add_conv(builder, name + ".conv2", "downsample", prefix + "conv2.",
           {.n = s.n,
            .h = s.h,
            .w = s.w,
            .ic = hid,
            .oc = hid,
            .kh = 3,
            .kw = 3,
            .stride_h = 2,
            .stride_w = 2,
            .pad_h = 1,
            .pad_w = 1,
            .groups = hid,
            .act = Activation::Relu},
           true, false);
  const Nhwc m = nhwc_of(builder.shape(builder.current()));
  const std::int64_t rd = se_channels(hid, spec.se_ratio);
  NetOp se{.name = name + ".se",
           .kind = "downsample",
           .key = SqueezeExciteStep::se_key(m, rd),
           .cost = SqueezeExciteStep::se_cost(m, rd),
           .in = builder.current(),
           .in_place = true};
  const auto add = [&](std::string local, Shape shape, WeightKind kind) {
    se.weights.push_back({.store_name = prefix + "se." + local,
                          .spec = {.name = std::move(local), .shape = shape, .kind = kind}});
  };
  add("fc1.weight", {rd, hid}, WeightKind::Matrix);
  add("fc1.bias", {rd}, WeightKind::Bias);
  add("fc2.weight", {hid, rd}, WeightKind::Matrix);
  add("fc2.bias", {hid}, WeightKind::Bias);
  se.create = [m, rd](const Engine& engine, const MixerWeights& w) -> std::unique_ptr<Step> {
    return std::make_unique<SqueezeExciteStep>(engine, m, rd, w);
  };
  const Shape map = builder.shape(builder.current());
  builder.add(std::move(se), map);
  add_conv(builder, name + ".conv3", "downsample", prefix + "conv3.",
           {.n = m.n, .h = m.h, .w = m.w, .ic = hid, .oc = width}, true, false);
}

bool is_conv_downsample(const DownsampleSpec& spec, std::optional<NormPlace>* place) {
  const bool k2 = spec.kernel == 2 && spec.stride == 2 && spec.pad == 0;
  const bool k3 = spec.kernel == 3 && spec.stride == 2 && spec.pad == 1;
  if (!(k2 || k3) || !spec.bias) return false;
  if (!spec.norm) {
    *place = NormPlace::None;
    return true;
  }
  const bool pre = spec.norm_place == NormPlacement::Pre;
  const double eps = pre ? kConvDownsamplePreEps : kConvDownsamplePostEps;
  if (spec.norm->kind != NormKind::LayerNorm || !spec.norm->bias ||
      static_cast<float>(spec.norm->eps) != static_cast<float>(eps)) {
    return false;
  }
  *place = pre ? NormPlace::Pre : NormPlace::Post;
  return true;
}

}  // namespace

void add_stem(GraphBuilder& builder, const StemSpec& stem) {
  if (stem.convs.empty()) throw InvalidArgument("convs: a stem needs at least one conv");
  const Nhwc in = nhwc_of(builder.shape(builder.current()));
  if (is_patch_embed(stem)) {
    const StemConv& c = stem.convs[0];
    const PatchEmbedDesc d{.n = in.n,
                           .h = in.h,
                           .w = in.w,
                           .in_c = in.c,
                           .c = c.out,
                           .patch = c.kernel,
                           .norm = stem.norm.has_value()};
    check(d);
    NetOp op{.name = "stem",
             .kind = "stem",
             .key = to_string(d),
             .cost = cost(d),
             .in = builder.current()};
    op.weights = renamed(weight_specs(d), {{"proj.weight", "stem.convs.0.weight"},
                                           {"proj.bias", "stem.convs.0.bias"},
                                           {"norm.weight", "stem.norm.weight"},
                                           {"norm.bias", "stem.norm.bias"}});
    op.create = layer_factory<PatchEmbedDesc, PatchEmbedPlan>(d);
    builder.add(std::move(op), dst_shape(d));
    return;
  }
  for (std::size_t i = 0; i < stem.convs.size(); ++i) {
    const StemConv& c = stem.convs[i];
    const Nhwc s = nhwc_of(builder.shape(builder.current()));
    with_path(fmt::format("convs[{}]", i), [&] {
      add_conv(builder, fmt::format("stem.convs.{}", i), "stem", fmt::format("stem.convs.{}.", i),
               {.n = s.n,
                .h = s.h,
                .w = s.w,
                .ic = s.c,
                .oc = c.out,
                .kh = c.kernel,
                .kw = c.kernel,
                .stride_h = c.stride,
                .stride_w = c.stride,
                .pad_h = c.pad,
                .pad_w = c.pad,
                .act = i + 1 < stem.convs.size() ? stem.act : Activation::None},
               c.bias, c.bn);
    });
  }
  if (stem.norm)
    with_path("norm", [&] { add_norm(builder, "stem.norm", "stem.norm.", *stem.norm); });
}

void add_downsample(GraphBuilder& builder, std::size_t stage, const DownsampleSpec& spec,
                    std::int64_t width) {
  const Nhwc s = nhwc_of(builder.shape(builder.current()));
  const std::string name = fmt::format("stages.{}.downsample", stage);
  const std::string prefix = name + ".";
  if (spec.kind == DownsampleKind::SePatchMerging) {
    add_se_patch_merging(builder, name, spec, width);
    return;
  }
  if (spec.kind == DownsampleKind::PatchMerging) {
    const PatchMergingDesc d{.n = s.n, .h = s.h, .w = s.w, .c = s.c};
    check(d);
    NetOp op{.name = name,
             .kind = "downsample",
             .key = to_string(d),
             .cost = cost(d),
             .in = builder.current()};
    std::vector<WeightSpec> specs = weight_specs(d);
    Shape out = dst_shape(d);
    if (width == 2 * s.c) {
      op.create = layer_factory<PatchMergingDesc, PatchMergingPlan>(d);
    } else {
      // The same layer with another Linear width: its key says so, its cost is recounted.
      for (WeightSpec& w : specs) {
        if (w.name != "reduction.weight") continue;
        w.shape[0] = width;
        if (!w.slicing.empty()) w.slicing[0].segments.clear();  // one segment: the output width
      }
      out[3] = width;
      op.key = fmt::format("{},out_c={}", op.key, width);
      const double t = static_cast<double>(out[0] * out[1] * out[2]);
      op.cost.flops = 2 * t * static_cast<double>(4 * s.c * width);
      op.cost.params = 8 * s.c + 4 * s.c * width;
      op.cost.bytes = 4.0 * (static_cast<double>(s.n * s.h * s.w * s.c) +
                             t * static_cast<double>(width) + static_cast<double>(op.cost.params));
      op.create = [d, width](const Engine& engine, const MixerWeights& w) -> std::unique_ptr<Step> {
        return std::make_unique<PatchMergingStep>(engine, d, width, w);
      };
    }
    op.weights = prefixed(std::move(specs), prefix);
    builder.add(std::move(op), out);
    return;
  }
  std::optional<NormPlace> place;
  if (is_conv_downsample(spec, &place)) {
    const ConvDownsampleDesc d{.n = s.n,
                               .h = s.h,
                               .w = s.w,
                               .c = s.c,
                               .kernel = spec.kernel,
                               .norm = *place,
                               .out_c = width};
    check(d);
    NetOp op{.name = name,
             .kind = "downsample",
             .key = to_string(d),
             .cost = cost(d),
             .in = builder.current()};
    op.weights = prefixed(weight_specs(d), prefix);
    op.create = layer_factory<ConvDownsampleDesc, ConvDownsamplePlan>(d);
    builder.add(std::move(op), dst_shape(d));
    return;
  }
  const bool pre = spec.norm && spec.norm_place == NormPlacement::Pre;
  if (pre) add_norm(builder, name + ".norm", prefix + "norm.", *spec.norm);
  add_conv(builder, name + ".proj", "downsample", prefix + "proj.",
           {.n = s.n,
            .h = s.h,
            .w = s.w,
            .ic = s.c,
            .oc = width,
            .kh = spec.kernel,
            .kw = spec.kernel,
            .stride_h = spec.stride,
            .stride_w = spec.stride,
            .pad_h = spec.pad,
            .pad_w = spec.pad},
           spec.bias, false);
  if (spec.norm && !pre) add_norm(builder, name + ".norm", prefix + "norm.", *spec.norm);
}

}  // namespace hwnas::net
