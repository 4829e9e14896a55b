#include "bench/op_registry.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "bench/workloads/workloads.hpp"
#include "kernels/error.hpp"

namespace hwnas {

std::span<const OpEntry> op_registry() {
  static const std::vector<OpEntry> kEntries = [] {
    std::vector<OpEntry> entries = {
        linear_entry(),          matmul_entry(),  layer_norm_entry(), batch_norm_entry(),
        softmax_entry(),         eltwise_entry(), binary_entry(),     pool_entry(),
        global_avg_pool_entry(), permute_entry(), conv2d_entry(),
    };
    for (OpEntry& layer : layer_op_entries()) entries.push_back(std::move(layer));
    for (OpEntry& mixer : mixer_op_entries()) entries.push_back(std::move(mixer));
    return entries;
  }();
  return kEntries;
}

const OpEntry& find_op(std::string_view name) {
  const auto entries = op_registry();
  const auto it = std::find_if(entries.begin(), entries.end(), [&](const OpEntry& e) { return e.name == name; });
  if (it == entries.end()) {
    std::vector<std::string_view> names;
    for (const OpEntry& e : entries) names.push_back(e.name);
    throw InvalidArgument(fmt::format("bench-op: unknown op '{}'; known ops: {}", name, fmt::join(names, ", ")));
  }
  return *it;
}

Workload make_workload(const Engine& engine, std::string_view op, std::span<const std::string> assignments,
                       std::uint64_t seed) {
  const OpEntry& entry = find_op(op);
  const Params params = Params::parse(entry.name, entry.params, assignments);
  Workload workload = entry.make(engine, params, seed);
  workload.params = params.values();
  return workload;
}

std::string workload_key(std::string_view op, std::span<const std::string> assignments) {
  const OpEntry& entry = find_op(op);
  return entry.check(Params::parse(entry.name, entry.params, assignments));
}

std::vector<SuiteEntry> backbone_suite() {
  struct Stage {
    int index;
    std::int64_t side, c;
  };
  // Swin-T / ConvNeXt-T: 224x224 input, patch 4, widths 96..768, head dim 32, 7x7 windows.
  constexpr Stage kStages[] = {{1, 56, 96}, {2, 28, 192}, {3, 14, 384}, {4, 7, 768}};
  constexpr std::int64_t kHeadDim = 32, kWindow = 7, kMlpRatio = 4;
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  std::vector<SuiteEntry> suite;
  for (const Stage& s : kStages) {
    const std::int64_t tokens = s.side * s.side, hidden = kMlpRatio * s.c, heads = s.c / kHeadDim;
    const std::int64_t windows = (s.side / kWindow) * (s.side / kWindow);
    const std::int64_t window_heads = windows * heads, win_tokens = kWindow * kWindow;
    const std::string where = fmt::format("stage {} ({}x{}x{})", s.index, s.side, s.side, s.c);
    const std::string hwc[] = {"n=1", "h=" + n(s.side), "w=" + n(s.side), "c=" + n(s.c)};
    suite.push_back({"linear", {"m=" + n(tokens), "k=" + n(s.c), "n=" + n(hidden)}, where + " MLP fc1"});
    suite.push_back({"linear", {"m=" + n(tokens), "k=" + n(hidden), "n=" + n(s.c)}, where + " MLP fc2"});
    suite.push_back({"linear", {"m=" + n(tokens), "k=" + n(s.c), "n=" + n(3 * s.c)}, where + " attention qkv"});
    suite.push_back({"matmul",
                     {"b=" + n(window_heads), "m=" + n(win_tokens), "k=" + n(kHeadDim), "n=" + n(win_tokens),
                      "trans_b=1", "scale=0.17677669"},
                     where + " window attention Q.K^T"});
    suite.push_back({"softmax", {"rows=" + n(window_heads * win_tokens), "n=" + n(win_tokens)},
                     where + " window attention softmax"});
    suite.push_back({"permute",
                     {fmt::format("shape=1x{}x3x{}x{}", tokens, heads, kHeadDim), "order=2x0x3x1x4"},
                     where + " qkv head split"});
    suite.push_back({"dwconv", {hwc[0], hwc[1], hwc[2], hwc[3], "k=7"}, where + " ConvNeXt 7x7 depthwise"});
    suite.push_back({"layer_norm", {"rows=" + n(tokens), "c=" + n(s.c)}, where + " pre-norm"});
    suite.push_back({"eltwise", {"numel=" + n(tokens * hidden), "act=gelu_erf"}, where + " MLP GELU"});
    suite.push_back({"binary", {"alg=add", hwc[0], hwc[1], hwc[2], hwc[3], "src1=nhwc"}, where + " residual add"});
    suite.push_back({"batch_norm", {hwc[0], hwc[1], hwc[2], hwc[3]}, where + " BN (conv designs)"});
    suite.push_back({"pool", {"alg=avg", hwc[0], hwc[1], hwc[2], hwc[3], "kh=3", "kw=3", "stride=1", "pad=1",
                              "count_include_pad=0"},
                     where + " PoolFormer pooling"});
  }
  suite.push_back({"global_avg_pool", {"n=1", "h=7", "w=7", "c=768"}, "head pooling"});
  return suite;
}

std::vector<SuiteEntry> mixer_suite() {
  struct Stage {
    int index;
    std::int64_t side, c, pvt_sr, cswin_sw, dinat_dilation;
  };
  // Stage shapes as backbone_suite(); each mixer with the per-stage settings of its paper's tiny
  // model: PVTv2 spatial reduction 8/4/2/1, CSWin-T stripes 1/2/7/7 (one branch in stage 4), DiNAT
  // dilations 8/4/2/1, head dim 32 (Swin-T), SHViT's partial ratio ~1/4, EfficientViT's key dim 16.
  constexpr Stage kStages[] = {
      {1, 56, 96, 8, 1, 8}, {2, 28, 192, 4, 2, 4}, {3, 14, 384, 2, 7, 2}, {4, 7, 768, 1, 7, 1}};
  constexpr std::int64_t kHeadDim = 32;
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  std::vector<SuiteEntry> suite;
  for (const Stage& s : kStages) {
    const std::string where = fmt::format("stage {} ({}x{}x{})", s.index, s.side, s.side, s.c);
    const std::vector<std::string> hwc = {"h=" + n(s.side), "w=" + n(s.side), "c=" + n(s.c)};
    const std::string heads = "heads=" + n(s.c / kHeadDim);
    const auto add = [&](std::string op, std::vector<std::string> extra, std::string note) {
      std::vector<std::string> words = hwc;
      words.insert(words.end(), extra.begin(), extra.end());
      suite.push_back({std::move(op), std::move(words), where + " " + std::move(note)});
    };
    add("mhsa", {heads, "sr_ratio=" + n(s.pvt_sr)}, "global MHSA, PVTv2 K/V reduction");
    add("window_attention", {heads, "window=7", "shift=3"}, "Swin shifted 7x7 windows");
    // Two branches split the heads in halves, so CSWin needs an even count: 96 channels get 2 heads of 48.
    const std::int64_t cswin_heads = s.index == 4 ? s.c / kHeadDim : (s.c / kHeadDim) / 2 * 2;
    add("cswin_attention",
        {"heads=" + n(cswin_heads), "sw=" + n(s.cswin_sw), s.index == 4 ? "branches=1" : "branches=2"},
        "CSWin cross-shaped stripes + LePE");
    add("neighborhood_attention", {heads, "kernel=7", "dilation=1"}, "NAT 7x7 neighborhood");
    if (s.dinat_dilation > 1) {
      add("neighborhood_attention", {heads, "kernel=7", "dilation=" + n(s.dinat_dilation)},
          "DiNAT dilated 7x7");
    }
    add("linear_attention", {heads, "feature_map=elu1"}, "linear attention, elu+1");
    add("single_head_attention", {"pdim=" + n(s.c / 4), "qk_dim=16"},
        "SHViT single head on c/4 channels");
    add("cascaded_group_attention", {"heads=4", "key_dim=16", "window=7", "kernel=5"},
        "EfficientViT cascaded group attention");
    add("channel_attention", {heads}, "DaViT channel attention");
    add("dwconv", {"k=7"}, "ConvNeXt 7x7 depthwise conv mixer");
    add("sepconv", {"expansion_ratio=2", "kernel=7"}, "ConvFormer/CAFormer separable conv");
    add("inception_dwconv", {"square_kernel=3", "band_kernel=11", "branch_ratio=0.125"},
        "InceptionNeXt inception depthwise conv");
    add("partial_conv", {"n_div=4"}, "FasterNet partial 3x3 conv on c/4");
    add("pool_mixer", {"pool=3"}, "PoolFormer avgpool(x) - x");
    add("focal_modulation", {"focal_level=2", "focal_window=3"}, "FocalNet-T (SRF) focal modulation");
    add("gnconv", {"order=" + n(s.index + 1)}, "HorNet-T gnConv, order 2..5 by stage");
    add("identity", {}, "IdentityFormer baseline");
    if (s.index >= 3) add("random_mixing", {}, "RandFormer fixed random token mixing (stages 3-4)");
  }
  return suite;
}

std::vector<SuiteEntry> layer_suite() {
  struct Stage {
    int index;
    std::int64_t side, c;
  };
  // Stage shapes as backbone_suite() (Swin-T / ConvNeXt-T widths, MLP ratio 4); stems from the
  // 224x224x3 image to stage 1, downsampling from each stage to the next.
  constexpr Stage kStages[] = {{1, 56, 96}, {2, 28, 192}, {3, 14, 384}, {4, 7, 768}};
  const auto n = [](std::int64_t v) { return std::to_string(v); };
  std::vector<SuiteEntry> suite;
  for (const Stage& s : kStages) {
    const std::string where = fmt::format("stage {} ({}x{}x{})", s.index, s.side, s.side, s.c);
    const std::vector<std::string> hwc = {"h=" + n(s.side), "w=" + n(s.side), "c=" + n(s.c)};
    const auto add = [&](std::string op, std::vector<std::string> extra, std::string note) {
      std::vector<std::string> words = hwc;
      words.insert(words.end(), extra.begin(), extra.end());
      suite.push_back({std::move(op), std::move(words), where + " " + std::move(note)});
    };
    add("mlp", {"ratio=4", "act=gelu_erf"}, "timm Mlp, GELU");
    add("mlp", {"ratio=4", "act=gelu_erf", "residual=layer_scale"},
        "Mlp + layer scale + residual (fused)");
    add("mlp", {"ratio=4", "act=gelu_erf", "residual=layer_scale", "residual_impl=separate"},
        "Mlp + layer scale + residual (separate binary ops)");
    add("mlp", {"ratio=4", "act=star_relu"}, "MetaFormer Mlp, StarReLU");
    add("conv_ffn", {"ratio=" + std::string(s.index <= 2 ? "8" : "4"), "act=gelu_erf"},
        "PVTv2 ConvFFN (PVTv2's ratios 8/8/4/4)");
    add("glu_mlp", {"ratio=2.6667", "act=gelu_erf"},
        "GluMlp, hidden 8c/3 (iso-FLOPs with ratio 4)");
    if (s.index < 4) {
      add("patch_merging", {}, "Swin patch merging to the next stage");
      add("conv_downsample", {"kernel=2", "norm=pre"}, "ConvNeXt LN + 2x2 s2 conv");
      add("conv_downsample", {"kernel=3", "norm=post"}, "PVTv2 overlapping 3x3 s2 conv + LN");
    }
  }
  suite.push_back({"patch_embed",
                   {"h=224", "w=224", "c=96", "patch=4", "norm=ln"},
                   "stem (224x224x3 -> 56x56x96) Swin patch embed 4x4"});
  suite.push_back({"conv_stem",
                   {"h=224", "w=224", "c=96", "act=gelu_erf"},
                   "stem (224x224x3 -> 56x56x96) two 3x3 s2 convs, GELU"});
  suite.push_back({"conv_stem",
                   {"h=224", "w=224", "c=96", "act=relu"},
                   "stem (224x224x3 -> 56x56x96) two 3x3 s2 convs, ReLU"});
  return suite;
}

}  // namespace hwnas
