#include "search/genome.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <utility>

#include "kernels/error.hpp"
#include "search/random.hpp"

namespace hwnas {
namespace {

struct OptionsCache {
  SearchSpace space;
  std::map<std::pair<std::size_t, std::size_t>, std::vector<MixerSpec>> options;
};

void check_index(std::size_t index, std::size_t size, const std::string& what) {
  if (index >= size) {
    throw InvalidArgument(fmt::format("genome: {}={} out of range [0, {})", what, index, size));
  }
}

template <typename T>
std::size_t index_of(const std::vector<T>& values, const T& value) {
  return static_cast<std::size_t>(std::find(values.begin(), values.end(), value) - values.begin());
}

}  // namespace

std::string to_string(const Genome& genome) {
  std::string text = fmt::format("stem={}", genome.stem);
  for (const StageGene& stage : genome.stages) {
    text += fmt::format(" | d{} w{} [", stage.depth, stage.width);
    for (std::size_t b = 0; b < stage.blocks.size(); ++b) {
      text += fmt::format("{}{}/{}", b == 0 ? "" : " ", stage.blocks[b].mixer,
                          stage.blocks[b].mlp_ratio);
    }
    text += "]";
  }
  return text;
}

const std::vector<MixerSpec>& stage_options(const SearchSpace& space, std::size_t stage,
                                            std::size_t width) {
  // A memo of a pure function, per thread so that no lock is needed; comparing the space costs
  // far less than recomputing the options.
  thread_local OptionsCache cache;
  if (!(cache.space == space)) {
    cache.space = space;
    cache.options.clear();
  }
  const auto key = std::make_pair(stage, width);
  auto found = cache.options.find(key);
  if (found == cache.options.end()) {
    check_index(stage, space.stages.size(), "stage");
    check_index(width, space.stages[stage].widths.size(), fmt::format("stages[{}].width", stage));
    found =
        cache.options.emplace(key, mixer_options(space, stage, space.stages[stage].widths[width]))
            .first;
  }
  return found->second;
}

BlockGene sample_block(const SearchSpace& space, std::size_t stage, std::size_t width,
                       std::mt19937_64& rng) {
  const std::size_t options = stage_options(space, stage, width).size();
  BlockGene block;
  block.mixer = uniform_index(rng, options);
  block.mlp_ratio = uniform_index(rng, space.stages[stage].mlp_ratios.size());
  return block;
}

Genome sample_genome(const SearchSpace& space, std::mt19937_64& rng) {
  Genome genome;
  genome.stem = uniform_index(rng, space.stems.size());
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& choices = space.stages[s];
    StageGene stage;
    stage.width = uniform_index(rng, choices.widths.size());
    stage.depth = uniform_index(rng, choices.depths.size());
    const auto depth = static_cast<std::size_t>(choices.depths[stage.depth]);
    for (std::size_t b = 0; b < depth; ++b) {
      stage.blocks.push_back(sample_block(space, s, stage.width, rng));
    }
    genome.stages.push_back(std::move(stage));
  }
  return genome;
}

Arch decode(const SearchSpace& space, const Genome& genome, std::int64_t resolution) {
  if (std::find(space.resolutions.begin(), space.resolutions.end(), resolution) ==
      space.resolutions.end()) {
    throw InvalidArgument(fmt::format(
        "genome: resolution {} is not one of space '{}''s resolutions {{{}}} (its mixer options "
        "are checked only there)",
        resolution, space.name, fmt::join(space.resolutions, ", ")));
  }
  check_index(genome.stem, space.stems.size(), "stem");
  if (genome.stages.size() != space.stages.size()) {
    throw InvalidArgument(fmt::format("genome: {} stages, the space has {}", genome.stages.size(),
                                      space.stages.size()));
  }
  Arch arch{.name = space.name.empty() ? "subnet" : space.name + "_subnet",
            .in_chans = space.in_chans,
            .stem = space.stems[genome.stem],
            .stages = {},
            .head = space.head};
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& choices = space.stages[s];
    const StageGene& gene = genome.stages[s];
    const std::string at = fmt::format("stages[{}]", s);
    check_index(gene.width, choices.widths.size(), at + ".width");
    check_index(gene.depth, choices.depths.size(), at + ".depth");
    const auto depth = static_cast<std::size_t>(choices.depths[gene.depth]);
    if (gene.blocks.size() != depth) {
      throw InvalidArgument(
          fmt::format("genome: {} has {} block genes for depth {}", at, gene.blocks.size(), depth));
    }
    const std::vector<MixerSpec>& options = stage_options(space, s, gene.width);
    StageSpec stage{
        .width = choices.widths[gene.width], .downsample = choices.downsample, .blocks = {}};
    for (std::size_t b = 0; b < depth; ++b) {
      const BlockGene& block = gene.blocks[b];
      const std::string block_at = fmt::format("{}.blocks[{}]", at, b);
      check_index(block.mixer, options.size(), block_at + ".mixer");
      check_index(block.mlp_ratio, choices.mlp_ratios.size(), block_at + ".mlp_ratio");
      stage.blocks.push_back(
          make_block(space, options[block.mixer], choices.mlp_ratios[block.mlp_ratio]));
    }
    arch.stages.push_back(std::move(stage));
  }
  arch.stem.convs.back().out = arch.stages.front().width;
  return arch;
}

Arch sample_arch(const SearchSpace& space, std::mt19937_64& rng, std::int64_t resolution) {
  return decode(space, sample_genome(space, rng), resolution);
}

Genome encode(const SearchSpace& space, const Arch& arch) {
  std::string why;
  if (!is_subnet_of(arch, space, &why)) throw InvalidArgument("encode: " + why);
  Genome genome;
  for (std::size_t i = 0; i < space.stems.size(); ++i) {
    StemSpec stem = space.stems[i];
    stem.convs.back().out = arch.stages.front().width;
    if (stem == arch.stem) {
      genome.stem = i;
      break;
    }
  }
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& choices = space.stages[s];
    const StageSpec& stage = arch.stages[s];
    StageGene gene;
    gene.width = index_of(choices.widths, stage.width);
    gene.depth = index_of(choices.depths, static_cast<std::int64_t>(stage.blocks.size()));
    const std::vector<MixerSpec>& options = stage_options(space, s, gene.width);
    for (const BlockSpec& block : stage.blocks) {
      // is_subnet_of has checked that the block is make_block(space, mixer, ratio) with both
      // in the space, so the first mixer and MLP ops name them.
      BlockGene block_gene;
      for (const UnitSpec& unit : block.units) {
        for (const UnitOp& op : unit.ops) {
          if (op.mixer) block_gene.mixer = index_of(options, *op.mixer);
          if (op.mlp) block_gene.mlp_ratio = index_of(choices.mlp_ratios, op.mlp->ratio);
        }
      }
      gene.blocks.push_back(block_gene);
    }
    genome.stages.push_back(std::move(gene));
  }
  return genome;
}

}  // namespace hwnas
