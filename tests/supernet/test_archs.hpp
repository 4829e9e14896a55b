// Small Archs for the subnet tests, built as structs (docs/arch.md) so each one reads as the
// network it is: the frames, norms, stems, downsamples and heads of the models hwnas covers, at
// widths 8..48 and resolutions 32..48 so a float64 reference of the whole network runs in
// milliseconds. Each is returned in canonical form (written with to_json and parsed back), as
// parse_arch would give it: mixer parameters complete and in the mixer's order.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "supernet/arch.hpp"

namespace hwnas::testing::archs {

inline Arch canonical(const Arch& arch) {
  Arch out = parse_arch(to_json(arch), arch.name);
  out.name = arch.name;
  return out;
}

inline NormSpec ln(double eps = 1e-5, bool bias = true) {
  return {.kind = NormKind::LayerNorm, .eps = eps, .bias = bias};
}
inline NormSpec bn() { return {.kind = NormKind::BatchNorm}; }
inline NormSpec gn1() { return {.kind = NormKind::GroupNorm1}; }

inline MixerSpec mixer(std::string name,
                       std::vector<std::pair<std::string, std::string>> params = {}) {
  return {.name = std::move(name), .params = std::move(params)};
}
inline MlpSpec mlp(double ratio, Activation act = Activation::GeluErf, std::string kind = "mlp") {
  return {.kind = std::move(kind), .ratio = ratio, .act = act};
}

struct Scales {
  bool layer_scale = false;
  bool res_scale = false;
};

// [norm, mixer] and [norm, mlp], each with a residual (Swin, PoolFormer, MetaFormer v2).
inline BlockSpec metaformer(const NormSpec& n, const MixerSpec& m, const MlpSpec& p,
                            Scales scales = {}) {
  return {.units = {{.ops = {{.norm = n}, {.mixer = m}},
                     .layer_scale = scales.layer_scale,
                     .res_scale = scales.res_scale},
                    {.ops = {{.norm = n}, {.mlp = p}},
                     .layer_scale = scales.layer_scale,
                     .res_scale = scales.res_scale}}};
}

// [mixer, norm, mlp] with one residual (ConvNeXt, InceptionNeXt).
inline BlockSpec metanext(const NormSpec& n, const MixerSpec& m, const MlpSpec& p,
                          bool layer_scale) {
  return {.units = {{.ops = {{.mixer = m}, {.norm = n}, {.mlp = p}}, .layer_scale = layer_scale}}};
}

inline StemConv conv(std::int64_t out, std::int64_t kernel, std::int64_t stride,
                     std::int64_t pad = 0, bool bn = false) {
  return {.out = out, .kernel = kernel, .stride = stride, .pad = pad, .bias = !bn, .bn = bn};
}

inline DownsampleSpec patch_merging() { return {.kind = DownsampleKind::PatchMerging}; }
inline DownsampleSpec conv_down(std::int64_t kernel, std::int64_t pad, std::optional<NormSpec> norm,
                                NormPlacement place) {
  return {.kind = DownsampleKind::Conv,
          .kernel = kernel,
          .stride = 2,
          .pad = pad,
          .norm = std::move(norm),
          .norm_place = place};
}

// Swin-like at 32x32: patch_embed stem (4x4, LN), shifted windows that pad (8x8 and 4x4 maps with
// window 3), patch merging to 2c (PatchMergingPlan) and to another width (composed), global
// attention in the last stage, LN before the pool.
inline Arch swin_like() {
  const MlpSpec p = mlp(2);
  Arch a{.name = "swin_like"};
  a.stem = {.convs = {conv(16, 4, 4)}, .norm = ln()};
  a.stages.push_back(
      {.width = 16,
       .blocks = {
           metaformer(ln(), mixer("window_attention", {{"heads", "2"}, {"window", "3"}}), p),
           metaformer(ln(),
                      mixer("window_attention", {{"heads", "2"}, {"window", "3"}, {"shift", "1"}}),
                      p)}});
  a.stages.push_back(
      {.width = 32,
       .downsample = patch_merging(),
       .blocks = {metaformer(
           ln(), mixer("window_attention", {{"heads", "4"}, {"window", "3"}, {"shift", "1"}}),
           p)}});
  a.stages.push_back({.width = 40,
                      .downsample = patch_merging(),
                      .blocks = {metaformer(ln(), mixer("mhsa", {{"heads", "2"}}), p)}});
  a.head = {.norm = ln(), .norm_place = HeadNormPlace::BeforePool, .num_classes = 10};
  return canonical(a);
}

// ConvNeXt-like at 32x32: the stem's LN eps 1e-6 is not patch_embed's (composed conv + LN),
// metanext blocks with layer scale, a ConvNeXt downsample (LN pre, k2: ConvDownsamplePlan), an
// InceptionNeXt mixer, LN after the pool.
inline Arch convnext_like() {
  const NormSpec n = ln(1e-6);
  Arch a{.name = "convnext_like"};
  a.stem = {.convs = {conv(16, 4, 4)}, .norm = n};
  a.stages.push_back({.width = 16,
                      .blocks = {metanext(n, mixer("dwconv", {{"k", "7"}}), mlp(4), true),
                                 metanext(n, mixer("dwconv", {{"k", "3"}}), mlp(3), true)}});
  a.stages.push_back(
      {.width = 24,
       .downsample = conv_down(2, 0, n, NormPlacement::Pre),
       .blocks = {
           metanext(n, mixer("inception_dwconv", {{"band_kernel", "5"}, {"branch_ratio", "0.25"}}),
                    mlp(4), true)}});
  a.head = {.norm = n, .norm_place = HeadNormPlace::AfterPool, .num_classes = 10};
  return canonical(a);
}

// PoolFormer / MetaFormer-v2-like at 35x35 (odd maps: 9x9, 5x5): a k7 s4 p2 stem without norm
// (composed conv), GroupNorm(1) blocks with layer scale, a k3 p1 downsample without norm
// (ConvDownsamplePlan), LN without bias with residual scales (separate residual passes after the
// MLP), a unit without residual, GroupNorm(1) before the pool.
inline Arch poolformer_like() {
  Arch a{.name = "poolformer_like"};
  a.stem = {.convs = {conv(16, 7, 4, 2)}};
  a.stages.push_back(
      {.width = 16,
       .blocks = {
           metaformer(gn1(), mixer("pool_mixer", {{"pool", "3"}}), mlp(4), {.layer_scale = true}),
           metaformer(gn1(), mixer("pool_mixer"), mlp(2), {.layer_scale = true})}});
  BlockSpec plain{
      .units = {{.ops = {{.norm = ln(1e-6, false)}, {.mixer = mixer("dwconv", {{"k", "3"}})}},
                 .residual = false}}};
  a.stages.push_back(
      {.width = 24,
       .downsample = conv_down(3, 1, std::nullopt, NormPlacement::Post),
       .blocks = {metaformer(ln(1e-6, false), mixer("pool_mixer"), mlp(4, Activation::StarRelu),
                             {.layer_scale = true, .res_scale = true}),
                  plain,
                  metaformer(ln(1e-6, false), mixer("identity"), mlp(2), {.res_scale = true})}});
  a.head = {.norm = gn1(), .norm_place = HeadNormPlace::BeforePool, .num_classes = 10};
  return canonical(a);
}

// EfficientViT / NAT-like at 48x48: two k3 s2 p1 stem convs with BatchNorm folded and ReLU between,
// BatchNorm blocks around neighborhood attention (pad=1 on the 12x12 map with kernel 5 and
// dilation 3), conv_ffn, a k3 downsample with BatchNorm after (composed conv + BN), MHSA with a
// GLU StarReLU MLP, BatchNorm after the pool and an MlpHead (fc1 -> GELU -> LN -> fc).
inline Arch hybrid_bn() {
  Arch a{.name = "hybrid_bn"};
  a.stem = {.convs = {conv(8, 3, 2, 1, true), conv(16, 3, 2, 1, true)}, .act = Activation::Relu};
  a.stages.push_back(
      {.width = 16,
       .blocks = {
           metaformer(bn(),
                      mixer("neighborhood_attention",
                            {{"heads", "2"}, {"kernel", "5"}, {"dilation", "3"}, {"pad", "1"}}),
                      mlp(2, Activation::Relu, "conv_ffn")),
           metaformer(bn(), mixer("neighborhood_attention", {{"heads", "4"}, {"kernel", "3"}}),
                      mlp(2, Activation::Hardswish))}});
  a.stages.push_back({.width = 24,
                      .downsample = conv_down(3, 1, bn(), NormPlacement::Post),
                      .blocks = {metaformer(ln(), mixer("mhsa", {{"heads", "3"}}),
                                            mlp(2, Activation::StarRelu, "glu_mlp"))}});
  a.head = {.norm = bn(),
            .norm_place = HeadNormPlace::AfterPool,
            .hidden = 32,
            .hidden_norm = ln(),
            .num_classes = 7};
  return canonical(a);
}

// NAT-like at 40x40: two k3 s2 p1 convs without BatchNorm (C/2, C) and LN (NAT's ConvTokenizer),
// DiNAT's dilation, a k3 downsample with LN after (ConvDownsamplePlan, post), a PVTv2-style
// spatial-reduction MHSA, then a FasterNet-like head (hidden, no hidden norm).
inline Arch nat_like() {
  Arch a{.name = "nat_like"};
  a.stem = {.convs = {conv(8, 3, 2, 1), conv(16, 3, 2, 1)}, .norm = ln()};
  a.stages.push_back(
      {.width = 16,
       .blocks = {
           metaformer(ln(), mixer("neighborhood_attention", {{"heads", "2"}, {"kernel", "3"}}),
                      mlp(3)),
           metaformer(ln(),
                      mixer("neighborhood_attention",
                            {{"heads", "2"}, {"kernel", "3"}, {"dilation", "2"}}),
                      mlp(3))}});
  a.stages.push_back(
      {.width = 32,
       .downsample = conv_down(3, 1, ln(), NormPlacement::Post),
       .blocks = {metaformer(ln(), mixer("mhsa", {{"heads", "2"}, {"sr_ratio", "2"}}), mlp(2),
                             {.layer_scale = true})}});
  a.head = {.norm = ln(),
            .norm_place = HeadNormPlace::BeforePool,
            .hidden = 48,
            .hidden_act = Activation::Relu,
            .num_classes = 5};
  return canonical(a);
}

inline DownsampleSpec se_patch_merging(std::int64_t expand = 4, double se_ratio = 0.25) {
  return {.kind = DownsampleKind::SePatchMerging, .expand = expand, .se_ratio = se_ratio};
}

// EfficientViT / SHViT-like at 45x45 (odd maps: 12 -> 6 -> 3 after the stride-2 depthwise convs):
// a k3 s2 p1 stem pair with BatchNorm folded and ReLU between, blocks of norm-free residual units
// ([dwconv], [mlp relu], [attention]) as EfficientViT's sandwich and SHViT's block, the SE patch
// merging to a wider stage (expand 4: hid 48, se 16 by timm's rounding) and, with expand 3 and
// se_ratio 0.5, to a narrower one; BatchNorm after the pool.
inline Arch se_merging_like() {
  const auto unit = [](UnitOp op) { return UnitSpec{.ops = {std::move(op)}}; };
  const UnitSpec dw = unit({.mixer = mixer("dwconv", {{"k", "3"}})});
  const UnitSpec ffn = unit({.mlp = mlp(2, Activation::Relu)});
  Arch a{.name = "se_merging_like"};
  a.stem = {.convs = {conv(6, 3, 2, 1, true), conv(12, 3, 2, 1, true)}, .act = Activation::Relu};
  a.stages.push_back(
      {.width = 12,
       .blocks = {{.units = {dw, ffn}},
                  {.units = {dw,
                             unit({.mixer = mixer("cascaded_group_attention", {{"heads", "3"},
                                                                               {"key_dim", "4"},
                                                                               {"window", "5"},
                                                                               {"kernel", "3"}})}),
                             dw, ffn}}}});
  a.stages.push_back(
      {.width = 20,
       .downsample = se_patch_merging(),
       .blocks = {{.units = {dw,
                             unit({.mixer = mixer("single_head_attention",
                                                  {{"pdim", "8"}, {"qk_dim", "4"}})}),
                             ffn}}}});
  a.stages.push_back(
      {.width = 16, .downsample = se_patch_merging(3, 0.5), .blocks = {{.units = {dw, ffn}}}});
  a.head = {.norm = bn(), .norm_place = HeadNormPlace::AfterPool, .num_classes = 6};
  return canonical(a);
}

// torchvision's swin_t and convnext_tiny as Archs, for their parameter counts (no forward).
inline Arch swin_t() {
  Arch a{.name = "swin_t"};
  a.stem = {.convs = {conv(96, 4, 4)}, .norm = ln()};
  const std::int64_t depths[] = {2, 2, 6, 2}, heads[] = {3, 6, 12, 24};
  for (std::size_t s = 0; s < 4; ++s) {
    StageSpec stage{.width = 96 << s};
    if (s > 0) stage.downsample = patch_merging();
    for (std::int64_t b = 0; b < depths[s]; ++b) {
      stage.blocks.push_back(
          metaformer(ln(),
                     mixer("window_attention", {{"heads", std::to_string(heads[s])},
                                                {"window", "7"},
                                                {"shift", b % 2 == 0 ? "0" : "3"}}),
                     mlp(4)));
    }
    a.stages.push_back(stage);
  }
  a.head = {.norm = ln(), .norm_place = HeadNormPlace::BeforePool, .num_classes = 1000};
  return canonical(a);
}

inline Arch convnext_t() {
  const NormSpec n = ln(1e-6);
  Arch a{.name = "convnext_t"};
  a.stem = {.convs = {conv(96, 4, 4)}, .norm = n};
  const std::int64_t depths[] = {3, 3, 9, 3};
  for (std::size_t s = 0; s < 4; ++s) {
    StageSpec stage{.width = 96 << s};
    if (s > 0) stage.downsample = conv_down(2, 0, n, NormPlacement::Pre);
    for (std::int64_t b = 0; b < depths[s]; ++b) {
      stage.blocks.push_back(metanext(n, mixer("dwconv", {{"k", "7"}}), mlp(4), true));
    }
    a.stages.push_back(stage);
  }
  a.head = {.norm = n, .norm_place = HeadNormPlace::AfterPool, .num_classes = 1000};
  return canonical(a);
}

}  // namespace hwnas::testing::archs
