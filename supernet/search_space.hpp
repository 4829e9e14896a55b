// SearchSpace: the choices a subnet of the supernet may make (docs/arch.md, "Search space").
//
//   SearchSpace space = load_search_space_file("supernet/spaces/default.json");
//   std::string why;
//   if (!is_subnet_of(arch, space, &why)) ...   // why: "stages[2]: width 400 not in {192, ...}"
//
// Per stage: depth, width and per-block MLP-ratio choices, the allowed mixers with each one's
// parameter choices; fixed per space: resolutions, stem choices, the block frame and norm,
// downsampling and head. A block's mixer and MLP ratio are chosen per block (AutoFormer); width and
// depth per stage.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "supernet/arch.hpp"

namespace hwnas {

// One allowed mixer and the values each of its parameters may take. A parameter the space does
// not list is fixed at the mixer's default. "head_dim": [32] is a derived choice: heads = width /
// head_dim (widths not divisible by it exclude the mixer at that width).
struct MixerChoice {
  std::string name;
  std::vector<std::pair<std::string, std::vector<std::string>>> params;  // name -> allowed values
  std::vector<std::int64_t> head_dims;                                   // empty: heads as listed
  friend bool operator==(const MixerChoice&, const MixerChoice&) = default;
};

struct StageChoices {
  std::vector<std::int64_t> depths;
  std::vector<std::int64_t> widths;
  std::vector<double> mlp_ratios;
  std::vector<MixerChoice> mixers;
  std::optional<DownsampleSpec> downsample;  // absent for stage 0
  friend bool operator==(const StageChoices&, const StageChoices&) = default;
};

struct SearchSpace {
  std::string name;
  std::vector<std::int64_t> resolutions;
  std::int64_t in_chans = 3;
  std::vector<StemSpec> stems;    // the stem's last conv out is the chosen stage-0 width
  std::string frame = "metaformer";  // "metaformer" or "metanext"
  NormSpec norm;                  // of every block
  std::string mlp_kind = "mlp";
  Activation mlp_act = Activation::GeluErf;
  bool layer_scale = false;
  std::vector<StageChoices> stages;
  HeadSpec head;
  friend bool operator==(const SearchSpace&, const SearchSpace&) = default;
};

// Parses and validates: every stage width has at least one mixer option, every listed parameter
// value and head_dim is part of an option at some width of its stage (see mixer_options), and the
// largest subnet validates at every resolution. Throws InvalidArgument naming source, JSON path
// and value.
SearchSpace parse_search_space(std::string_view json_text, std::string_view source);
SearchSpace load_search_space_file(const std::string& path);
std::string to_json(const SearchSpace& space);

// Whether `arch` is a subnet of `space`; when not, `why` (if given) gets the first reason, naming
// the stage, block and value.
bool is_subnet_of(const Arch& arch, const SearchSpace& space, std::string* why = nullptr);

// Number of distinct architectures (canonical forms) of the space at one resolution, as a decimal
// string (it exceeds 2^64 for the default space), and its log10.
std::string space_size(const SearchSpace& space);
double space_size_log10(const SearchSpace& space);

// The concrete mixers one block of `stage` may use at `width` (every combination of the listed
// parameter values, head_dim resolved; a combination is kept when the registry's check passes at
// every map size the space's stems and resolutions give the stage, so every subnet runs at every
// resolution of the space), in a fixed order: choices as listed, then head_dims, then the values
// with the first parameter varying slowest; duplicates dropped. Throws InvalidArgument for a stage
// index out of range. The
// supernet's weight store declares the union of their weights; the search samples from them.
std::vector<MixerSpec> mixer_options(const SearchSpace& space, std::size_t stage, std::int64_t width);

// The block a space builds from its fixed frame, norm, MLP kind and layer scale.
BlockSpec make_block(const SearchSpace& space, const MixerSpec& mixer, double mlp_ratio);

// The largest subnet (every stage at its largest depth and width, the first stem), with each
// block's mixer = the first option: the supernet's reference shape for tests.
Arch largest_arch(const SearchSpace& space);

}  // namespace hwnas
