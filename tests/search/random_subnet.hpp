// A uniformly drawn subnet of a space, for the search tests (width and depth per stage, mixer and
// MLP ratio per block), until the search's own sampler is merged.
#pragma once

#include <random>
#include <vector>

#include "supernet/search_space.hpp"

namespace hwnas::testing {

template <typename T>
const T& pick(const std::vector<T>& values, std::mt19937_64& rng) {
  return values[std::uniform_int_distribution<std::size_t>(0, values.size() - 1)(rng)];
}

inline Arch random_subnet(const SearchSpace& space, std::mt19937_64& rng) {
  Arch arch{.name = "random",
            .in_chans = space.in_chans,
            .stem = pick(space.stems, rng),
            .stages = {},
            .head = space.head};
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& choices = space.stages[s];
    StageSpec stage{
        .width = pick(choices.widths, rng), .downsample = choices.downsample, .blocks = {}};
    const std::vector<MixerSpec> options = mixer_options(space, s, stage.width);
    const std::int64_t depth = pick(choices.depths, rng);
    for (std::int64_t b = 0; b < depth; ++b) {
      stage.blocks.push_back(make_block(space, pick(options, rng), pick(choices.mlp_ratios, rng)));
    }
    arch.stages.push_back(std::move(stage));
  }
  arch.stem.convs.back().out = arch.stages[0].width;
  return arch;
}

}  // namespace hwnas::testing
