#include "search/variation.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "kernels/error.hpp"
#include "search/random.hpp"

namespace hwnas {
namespace {

// An option without the heads a head_dim derives from the width, so the same choice at another
// width compares equal; heads listed by the space stay part of it.
MixerSpec without_derived_heads(const StageChoices& choices, MixerSpec option) {
  const bool derived =
      std::any_of(choices.mixers.begin(), choices.mixers.end(), [&](const MixerChoice& choice) {
        return choice.name == option.name && !choice.head_dims.empty();
      });
  if (derived) {
    std::erase_if(option.params, [](const auto& param) { return param.first == "heads"; });
  }
  return option;
}

void change_width(const SearchSpace& space, std::size_t s, StageGene& stage, std::size_t width,
                  std::mt19937_64& rng) {
  const StageChoices& choices = space.stages[s];
  const std::vector<MixerSpec>& before = stage_options(space, s, stage.width);
  const std::vector<MixerSpec>& after = stage_options(space, s, width);
  std::vector<MixerSpec> after_keys;
  for (const MixerSpec& option : after)
    after_keys.push_back(without_derived_heads(choices, option));
  for (BlockGene& block : stage.blocks) {
    const MixerSpec key = without_derived_heads(choices, before[block.mixer]);
    const auto same = std::find(after_keys.begin(), after_keys.end(), key);
    block.mixer = same != after_keys.end() ? static_cast<std::size_t>(same - after_keys.begin())
                                           : uniform_index(rng, after.size());
  }
  stage.width = width;
}

}  // namespace

Genome mutate(const SearchSpace& space, const Genome& parent, double p, std::mt19937_64& rng) {
  if (!(p >= 0 && p <= 1)) {
    throw InvalidArgument(fmt::format("mutate: probability p={} must be in [0, 1]", p));
  }
  auto hit = [&] { return uniform_unit(rng) < p; };
  Genome child = parent;
  if (hit()) child.stem = uniform_index(rng, space.stems.size());
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& choices = space.stages[s];
    StageGene& stage = child.stages[s];
    if (hit()) {
      const std::size_t width = uniform_index(rng, choices.widths.size());
      if (width != stage.width) change_width(space, s, stage, width, rng);
    }
    if (hit()) {
      stage.depth = uniform_index(rng, choices.depths.size());
      const auto depth = static_cast<std::size_t>(choices.depths[stage.depth]);
      if (depth < stage.blocks.size()) stage.blocks.resize(depth);
      while (stage.blocks.size() < depth) {
        stage.blocks.push_back(sample_block(space, s, stage.width, rng));
      }
    }
    const std::size_t options = stage_options(space, s, stage.width).size();
    for (BlockGene& block : stage.blocks) {
      if (hit()) block.mixer = uniform_index(rng, options);
      if (hit()) block.mlp_ratio = uniform_index(rng, choices.mlp_ratios.size());
    }
  }
  return child;
}

Genome crossover(const SearchSpace& space, const Genome& first, const Genome& second,
                 std::mt19937_64& rng) {
  auto coin = [&] { return uniform_unit(rng) < 0.5; };
  Genome child;
  child.stem = coin() ? first.stem : second.stem;
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const bool from_first = coin();
    const StageGene& taken = from_first ? first.stages[s] : second.stages[s];
    const StageGene& other = from_first ? second.stages[s] : first.stages[s];
    StageGene stage = taken;
    // Mixer indices mean the same option only at the same width.
    if (other.width == stage.width) {
      const std::size_t shared = std::min(stage.blocks.size(), other.blocks.size());
      for (std::size_t b = 0; b < shared; ++b) {
        if (coin()) stage.blocks[b] = other.blocks[b];
      }
    }
    child.stages.push_back(std::move(stage));
  }
  return child;
}

}  // namespace hwnas
