// validate_arch and stage_resolutions: the checks of an Arch that need no JSON.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <iterator>

#include "kernels/error.hpp"
#include "supernet/arch.hpp"
#include "supernet/spec_parts.hpp"

namespace hwnas {
namespace {

using detail::kMlpActs;
using detail::kMlpActWords;
using detail::kMlpKinds;
using detail::Where;

// ---- validation of the structs (canonical paths: stages[s].blocks[b].units[u].ops[o]) ----

void check_mlp(const MlpSpec& mlp, std::int64_t width, const Where& where) {
  if (std::find(std::begin(kMlpKinds), std::end(kMlpKinds), mlp.kind) == std::end(kMlpKinds)) {
    where.fail(fmt::format("mlp '{}' is not one of {}", mlp.kind, fmt::join(kMlpKinds, ", ")));
  }
  if (std::find(std::begin(kMlpActs), std::end(kMlpActs), mlp.act) == std::end(kMlpActs)) {
    where.fail(fmt::format("act '{}' is not one of {}", to_string(mlp.act),
                           fmt::join(kMlpActWords, ", ")));
  }
  if (!(mlp.ratio > 0) || !std::isfinite(mlp.ratio) || std::lround(width * mlp.ratio) < 1) {
    where.fail(
        fmt::format("ratio={} must be > 0 and give hidden = round(width*ratio) >= 1 at "
                    "width={}",
                    detail::format_real(mlp.ratio), width));
  }
}

void check_values(const Arch& arch, const Where& root) {
  if (arch.in_chans < 1) {
    root.at("in_chans").fail(fmt::format("in_chans={} must be >= 1", arch.in_chans));
  }
  detail::check_stem(arch.stem, root.at("stem"), detail::StemOut::Required);
  if (arch.stages.empty()) root.at("stages").fail("an arch needs at least one stage");
  for (std::size_t s = 0; s < arch.stages.size(); ++s) {
    const StageSpec& stage = arch.stages[s];
    const Where at = root.at("stages").at(s);
    if (stage.width < 1) at.at("width").fail(fmt::format("width={} must be >= 1", stage.width));
    if (s == 0 && stage.downsample) {
      at.at("downsample").fail("stage 0 takes the stem's output and has no downsample");
    }
    if (s > 0 && !stage.downsample) {
      at.fail("missing 'downsample' (every stage after the first has one)");
    }
    if (stage.downsample) detail::check_downsample(*stage.downsample, at.at("downsample"));
    if (stage.blocks.empty()) at.at("blocks").fail("a stage needs at least one block");
    for (std::size_t b = 0; b < stage.blocks.size(); ++b) {
      const Where block_at = at.at("blocks").at(b);
      if (stage.blocks[b].units.empty()) block_at.fail("a block needs at least one unit");
      for (std::size_t u = 0; u < stage.blocks[b].units.size(); ++u) {
        const UnitSpec& unit = stage.blocks[b].units[u];
        const Where unit_at = block_at.at("units").at(u);
        if (unit.ops.empty()) unit_at.at("ops").fail("a unit needs at least one op");
        for (std::size_t o = 0; o < unit.ops.size(); ++o) {
          const UnitOp& op = unit.ops[o];
          const Where op_at = unit_at.at("ops").at(o);
          if (op.norm.has_value() + op.mixer.has_value() + op.mlp.has_value() != 1) {
            op_at.fail("an op is exactly one of norm, mixer, mlp");
          }
          if (op.norm) detail::check_norm(*op.norm, op_at);
          if (op.mlp) check_mlp(*op.mlp, stage.width, op_at);
        }
      }
    }
  }
  const std::int64_t stem_out = arch.stem.convs.back().out;
  if (stem_out != arch.stages[0].width) {
    root.at("stem")
        .at("convs")
        .at(arch.stem.convs.size() - 1)
        .at("out")
        .fail(fmt::format("out={} must equal stages[0].width={} (the stem feeds stage 0)", stem_out,
                          arch.stages[0].width));
  }
  detail::check_head(arch.head, root.at("head"));
}

std::vector<std::int64_t> stage_sizes(const Arch& arch, std::int64_t resolution,
                                      const Where& root) {
  std::vector<std::int64_t> sizes;
  std::int64_t size = detail::stem_output_size(arch.stem, resolution, root.at("stem"));
  for (std::size_t s = 0; s < arch.stages.size(); ++s) {
    const Where at = root.at("stages").at(s);
    if (s > 0) {
      if (!arch.stages[s].downsample)
        at.fail("missing 'downsample' (every stage after the first has one)");
      size = detail::downsample_output_size(*arch.stages[s].downsample, size, resolution,
                                            at.at("downsample"));
    }
    sizes.push_back(size);
  }
  return sizes;
}

}  // namespace

namespace detail {

void validate_arch_at(const Arch& arch, std::int64_t resolution, std::string_view source) {
  const Where root{source, ""};
  check_values(arch, root);
  const std::vector<std::int64_t> sizes = stage_sizes(arch, resolution, root);
  for (std::size_t s = 0; s < arch.stages.size(); ++s) {
    const StageSpec& stage = arch.stages[s];
    const MixerShape shape{.n = 1, .h = sizes[s], .w = sizes[s], .c = stage.width};
    for (std::size_t b = 0; b < stage.blocks.size(); ++b) {
      for (std::size_t u = 0; u < stage.blocks[b].units.size(); ++u) {
        const UnitSpec& unit = stage.blocks[b].units[u];
        for (std::size_t o = 0; o < unit.ops.size(); ++o) {
          if (!unit.ops[o].mixer) continue;
          const MixerSpec& mixer = *unit.ops[o].mixer;
          const Where at =
              root.at("stages").at(s).at("blocks").at(b).at("units").at(u).at("ops").at(o);
          const MixerEntry& entry = detail::mixer_entry(mixer.name, at);
          const Params params = detail::mixer_params(mixer, shape, at);
          // A MixerSpec made in code must hold the canonical text, or its hash would differ
          // from the same network read from a file.
          const MixerSpec canonical = detail::mixer_spec_from(entry, params);
          if (canonical != mixer) {
            at.fail(
                fmt::format("mixer parameters are not canonical: got {}, expected {} (every "
                            "parameter, in the mixer's order, as its canonical text)",
                            detail::describe(mixer), detail::describe(canonical)));
          }
          detail::check_mixer(entry, params, at);
        }
      }
    }
  }
}

}  // namespace detail

void validate_arch(const Arch& arch, std::int64_t resolution) {
  detail::validate_arch_at(arch, resolution, {});
}

std::vector<std::int64_t> stage_resolutions(const Arch& arch, std::int64_t resolution) {
  return stage_sizes(arch, resolution, {});
}

}  // namespace hwnas
