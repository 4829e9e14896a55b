// STAND-IN for wt/nsga's sample_arch (see search/genome.hpp).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "kernels/error.hpp"
#include "search/genome.hpp"

namespace hwnas {
namespace {

std::size_t pick(std::mt19937_64& rng, std::size_t n) {
  return static_cast<std::size_t>(rng() % static_cast<std::uint64_t>(n));
}

}  // namespace

Arch sample_arch(const SearchSpace& space, std::mt19937_64& rng, std::int64_t resolution) {
  if (std::find(space.resolutions.begin(), space.resolutions.end(), resolution) ==
      space.resolutions.end()) {
    throw InvalidArgument(fmt::format("sample_arch: resolution={} is not one of the space's {}",
                                      resolution, fmt::join(space.resolutions, ", ")));
  }
  Arch arch{.name = space.name.empty() ? "sample" : space.name + "_sample",
            .in_chans = space.in_chans,
            .stem = space.stems[pick(rng, space.stems.size())],
            .stages = {},
            .head = space.head};
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& choices = space.stages[s];
    const std::int64_t depth = choices.depths[pick(rng, choices.depths.size())];
    const std::int64_t width = choices.widths[pick(rng, choices.widths.size())];
    const std::vector<MixerSpec> options = mixer_options(space, s, width);
    StageSpec stage{.width = width, .downsample = choices.downsample, .blocks = {}};
    for (std::int64_t b = 0; b < depth; ++b) {
      const MixerSpec& mixer = options[pick(rng, options.size())];
      stage.blocks.push_back(
          make_block(space, mixer, choices.mlp_ratios[pick(rng, choices.mlp_ratios.size())]));
    }
    arch.stages.push_back(std::move(stage));
  }
  arch.stem.convs.back().out = arch.stages.front().width;
  return arch;
}

}  // namespace hwnas
