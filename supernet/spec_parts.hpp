// Internal to supernet/: the pieces of the Arch format (docs/arch.md) that the SearchSpace format
// reuses (stem, norm, downsample, head, mixer parameters), and the conversion of a MixerSpec back
// to the registry's Params that the subnet builder needs. JSON crosses this header as text, so
// nlohmann_json stays inside the .cpp files (STYLE.md §2).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "kernels/mixers/mixer.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/params.hpp"
#include "supernet/arch.hpp"
#include "supernet/search_space.hpp"

namespace hwnas::detail {

// Where a value sits, for errors: "<source>: <path>: <message>" (empty parts left out), e.g.
// "swin_t.json: stages[1].blocks[0].units[0].ops[1]: unknown key 'heads2'; ...".
struct Where {
  std::string_view source;  // a file name, or empty
  std::string path;         // JSON path from the root, empty at the root

  Where at(std::string_view key) const;
  Where at(std::size_t index) const;
  std::string prefix() const;  // "<source>: <path>", or the one that is not empty
  // Throws InvalidArgument("<prefix>: <message>").
  [[noreturn]] void fail(std::string_view message) const;
};

// A JSON string literal of `text` (quotes added, '"', '\\' and control characters escaped).
std::string json_quote(std::string_view text);

// Shortest text that parses back to the same double ("1e-05", "4", "0.125"): the canonical form
// of every real in the JSON formats and of Real mixer parameters.
std::string format_real(double value);

// The registry entry of a mixer; throws InvalidArgument at `where` listing the known names.
const MixerEntry& mixer_entry(std::string_view name, const Where& where);
// Whether `name` is one of the shape parameters n, h, w, c the network supplies.
bool is_shape_param(std::string_view name);

// The canonical text of one parameter value: checked by the registry's ParamSpec (type, range,
// word choices; its message prefixed with `where`), then rewritten in the form that parses back to
// the same value ("07" -> "7", "0.50" -> "0.5").
std::string canonical_param_value(const MixerEntry& entry, std::string_view param,
                                  std::string_view text, const Where& where);
// Params::parse of `entry`'s parameters, its error prefixed with `where`.
Params parse_mixer_params(const MixerEntry& entry, std::span<const std::string> assignments,
                          const Where& where);
// The entry's `check` (heads dividing c, a window that tiles, ...), its error prefixed with
// `where`.
void check_mixer(const MixerEntry& entry, const Params& params, const Where& where);
// A MixerSpec from validated Params of `entry`: every non-shape parameter, spec order, canonical.
MixerSpec mixer_spec_from(const MixerEntry& entry, const Params& params);
// The registry's Params of a mixer at one shape (n, h, w, c filled in); throws InvalidArgument
// (the registry's message, prefixed with `where` when given) for an unknown mixer, a parameter the
// mixer does not have or a value it refuses. Does not run the entry's `check`.
Params mixer_params(const MixerSpec& mixer, const MixerShape& shape, const Where& where = {});
// "window_attention:heads=3,window=7,...": a mixer choice without its shape, for messages.
std::string describe(const MixerSpec& mixer);

// The parts of an Arch file, parsed from JSON text of one object at `where`. Type, key and word
// errors throw InvalidArgument at their JSON path; value ranges are checked by check_* below.
// StemOut::FromWidth: the last conv has no "out" (a SearchSpace stem: it is the chosen stage-0
// width, held as 0).
enum class StemOut { Required, FromWidth };
StemSpec parse_stem_json(std::string_view text, const Where& where, StemOut last_out);
NormSpec parse_norm_json(std::string_view text, const Where& where);
DownsampleSpec parse_downsample_json(std::string_view text, const Where& where);
HeadSpec parse_head_json(std::string_view text, const Where& where);

// Canonical compact JSON of each part (docs/arch.md, "Canonical form and hash").
std::string stem_json(const StemSpec& stem, StemOut last_out);
std::string norm_json(const NormSpec& norm);
std::string downsample_json(const DownsampleSpec& downsample);
std::string head_json(const HeadSpec& head);

// Value checks of each part (sizes >= 1, eps > 0, ...), throwing InvalidArgument at `where`.
void check_stem(const StemSpec& stem, const Where& where, StemOut last_out);
void check_norm(const NormSpec& norm, const Where& where);
void check_downsample(const DownsampleSpec& downsample, const Where& where);
void check_head(const HeadSpec& head, const Where& where);

// The MLP kinds (layer names) and activations an Arch's MLP may use.
inline constexpr std::string_view kMlpKinds[] = {"mlp", "conv_ffn", "glu_mlp"};
inline constexpr Activation kMlpActs[] = {Activation::GeluErf, Activation::Relu,
                                          Activation::Hardswish, Activation::StarRelu};
inline constexpr std::string_view kMlpActWords[] = {"gelu_erf", "relu", "hardswish", "star_relu"};

// validate_arch with `source` (a file name, or empty) prefixing every error; parse_arch calls it
// at 224.
void validate_arch_at(const Arch& arch, std::int64_t resolution, std::string_view source);

// The SearchSpace checks that enumerate mixer options: every stage width has an option, and every
// listed value and head_dim is part of one at some width (a value that can never be chosen is a
// mistake in the file). Throws InvalidArgument at the choice's JSON path.
void check_space_options(const SearchSpace& space, const Where& root);

// Map size after the stem / a downsample of a `size` map (PyTorch's conv arithmetic; patch merging
// ceil(h/2)) for a square input of `resolution`. Throws InvalidArgument at `where` naming the
// resolution when the map would vanish (a kernel larger than the padded input), or for a kernel or
// stride < 1 or a pad < 0.
std::int64_t stem_output_size(const StemSpec& stem, std::int64_t resolution, const Where& where);
std::int64_t downsample_output_size(const DownsampleSpec& downsample, std::int64_t size,
                                    std::int64_t resolution, const Where& where);

}  // namespace hwnas::detail
