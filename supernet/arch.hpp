// Arch: one concrete network of the design space (docs/arch.md): stem, stages of blocks made of
// residual units, head. Searched subnets and published models (supernet/catalog/) are both Archs,
// so they are built and measured the same way.
//
//   Arch arch = load_arch_file("supernet/catalog/swin_t.json");   // validated
//   std::string key = arch_hash(arch);                             // "3f2a..." (16 hex digits)
//
// The structs hold the canonical form: shorthands (frame, pattern) are expanded by the parser and
// every default is filled in, so two files that describe the same network compare equal and hash
// the same. Mixer parameters are kept as the text of their bench-op values, in the mixer's
// ParamSpec order (n, h, w, c excluded: the network supplies them).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernels/activation.hpp"

namespace hwnas {

enum class NormKind { LayerNorm, BatchNorm, GroupNorm1 };
std::string_view to_string(NormKind kind);  // "ln", "bn", "gn1"

struct NormSpec {
  NormKind kind = NormKind::LayerNorm;
  double eps = 1e-5;
  bool bias = true;  // false: MetaFormer v2's LayerNorm without bias
  friend bool operator==(const NormSpec&, const NormSpec&) = default;
};

// A token mixer of the registry (kernels/mixers/mixer_registry.hpp) with its parameters.
struct MixerSpec {
  std::string name;                                         // "window_attention"
  std::vector<std::pair<std::string, std::string>> params;  // every non-shape param, spec order
  // The value of one parameter as text; asserts the name exists.
  const std::string& param(std::string_view name) const;
  friend bool operator==(const MixerSpec&, const MixerSpec&) = default;
};

struct MlpSpec {
  std::string kind = "mlp";  // "mlp", "conv_ffn", "glu_mlp" (the layer names)
  double ratio = 4.0;
  Activation act = Activation::GeluErf;
  friend bool operator==(const MlpSpec&, const MlpSpec&) = default;
};

// One op of a residual unit: exactly one of the three is set.
struct UnitOp {
  std::optional<NormSpec> norm;
  std::optional<MixerSpec> mixer;
  std::optional<MlpSpec> mlp;
  friend bool operator==(const UnitOp&, const UnitOp&) = default;
};

// x = (res_scale ? rs (.) x : x) + (layer_scale ? ls (.) f(x) : f(x)), f = ops in order;
// residual = false gives x = f(x).
struct UnitSpec {
  std::vector<UnitOp> ops;
  bool layer_scale = false;
  bool res_scale = false;
  bool residual = true;
  friend bool operator==(const UnitSpec&, const UnitSpec&) = default;
};

struct BlockSpec {
  std::vector<UnitSpec> units;
  friend bool operator==(const BlockSpec&, const BlockSpec&) = default;
};

struct StemConv {
  std::int64_t out = 0, kernel = 4, stride = 4, pad = 0;
  bool bias = true;
  bool bn = false;  // a BatchNorm after this conv (folded at build time)
  friend bool operator==(const StemConv&, const StemConv&) = default;
};

struct StemSpec {
  std::vector<StemConv> convs;
  Activation act = Activation::None;  // between consecutive convs
  std::optional<NormSpec> norm;       // after the last conv
  friend bool operator==(const StemSpec&, const StemSpec&) = default;
};

// SePatchMerging: EfficientViT's / SHViT's PatchMerging, conv1x1 c -> hid = expand * c, ReLU,
// depthwise conv3x3 s2 p1, ReLU, squeeze-excite (hid -> se_channels(hid, se_ratio) -> hid), conv1x1
// hid -> width; every Conv2d_BN's BatchNorm folded into a conv with bias.
enum class DownsampleKind { PatchMerging, Conv, SePatchMerging };
enum class NormPlacement { Pre, Post };

struct DownsampleSpec {
  DownsampleKind kind = DownsampleKind::Conv;
  std::int64_t kernel = 2, stride = 2, pad = 0;  // Conv only
  bool bias = true;                              // Conv only
  std::optional<NormSpec> norm;                  // Conv only (PatchMerging always has its LN)
  NormPlacement norm_place = NormPlacement::Post;
  std::int64_t expand = 4;  // SePatchMerging only: hidden width = expand * input width
  double se_ratio = 0.25;   // SePatchMerging only
  friend bool operator==(const DownsampleSpec&, const DownsampleSpec&) = default;
};

// The squeeze-excite width of SePatchMerging: timm's SqueezeExcite, make_divisible(se_ratio * hid,
// 8) = max(8, floor(se_ratio * hid + 4) rounded down to a multiple of 8) (EfficientViT and SHViT
// both take timm's module).
std::int64_t se_channels(std::int64_t hid, double se_ratio);

struct StageSpec {
  std::int64_t width = 0;
  std::optional<DownsampleSpec> downsample;  // absent for stage 0, required for the others
  std::vector<BlockSpec> blocks;
  friend bool operator==(const StageSpec&, const StageSpec&) = default;
};

enum class HeadNormPlace { BeforePool, AfterPool };

struct HeadSpec {
  std::optional<NormSpec> norm;
  HeadNormPlace norm_place = HeadNormPlace::BeforePool;
  std::int64_t hidden = 0;  // > 0: fc1 -> hidden_act -> hidden_norm -> fc
  Activation hidden_act = Activation::GeluErf;
  std::optional<NormSpec> hidden_norm;
  std::int64_t num_classes = 1000;
  friend bool operator==(const HeadSpec&, const HeadSpec&) = default;
};

struct Arch {
  std::string name;  // informative; not part of the canonical form or the hash
  std::int64_t in_chans = 3;
  StemSpec stem;
  std::vector<StageSpec> stages;
  HeadSpec head;
  // Equality of the networks (name ignored).
  friend bool operator==(const Arch& a, const Arch& b);
};

// Parses and validates; `source` (a file name) prefixes every error. Throws InvalidArgument naming
// the JSON path and the value: malformed JSON, an unknown key, an unknown mixer or parameter, a
// mixer parameter the mixer refuses at any stage resolution it is given (checked at 224x224 input
// by default: see validate_arch), widths < 1, a stem whose last conv's out differs from stage 0's
// width, stage 0 with a downsample or a later stage without one.
Arch parse_arch(std::string_view json_text, std::string_view source);
Arch load_arch_file(const std::string& path);  // reads and parses; names the path

// Checks that every op can be built at this input: each mixer's params through its registry
// check at its stage's h, w, c (a window that cannot tile, heads not dividing the width, a stripe
// wider than the map, ...). Throws InvalidArgument naming the stage, block, unit and value.
void validate_arch(const Arch& arch, std::int64_t resolution);

// The canonical JSON (docs/arch.md): compact, fixed key order, defaults explicit, no name.
std::string to_json(const Arch& arch);
// The same with "name" and two-space indentation, for files a person reads.
std::string to_pretty_json(const Arch& arch);
// First 16 hex digits of SHA-256(to_json(arch)).
std::string arch_hash(const Arch& arch);

// Spatial size of each stage's blocks for a square input (the stem's and downsamples' PyTorch
// conv arithmetic).
std::vector<std::int64_t> stage_resolutions(const Arch& arch, std::int64_t resolution);

}  // namespace hwnas
