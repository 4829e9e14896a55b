// Genome: a subnet of a SearchSpace written as the choices that make it (docs/arch.md "Subnets"),
// the form mutation and crossover work on. The resolution is not a gene: a run fixes it.
//
//   Genome g = sample_genome(space, rng);
//   Arch arch = decode(space, g, 224);        // is_subnet_of(arch, space) and validate_arch-clean
//   Genome back = encode(space, arch);        // == g
//
// Every gene is an index into a list of the space: the stem into space.stems, a stage's depth and
// width into its depths and widths, a block's MLP ratio into the stage's mlp_ratios and its mixer
// into mixer_options(space, stage, width) at the stage's width. A stage holds one block gene per
// block of its depth. A genome whose indices are in range therefore always decodes to a valid
// subnet, which is what lets variation never produce an invalid one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "supernet/arch.hpp"
#include "supernet/search_space.hpp"

namespace hwnas {

struct BlockGene {
  std::size_t mixer = 0;      // into mixer_options(space, stage, width of the stage)
  std::size_t mlp_ratio = 0;  // into space.stages[s].mlp_ratios
  friend bool operator==(const BlockGene&, const BlockGene&) = default;
};

struct StageGene {
  std::size_t depth = 0;          // into space.stages[s].depths
  std::size_t width = 0;          // into space.stages[s].widths
  std::vector<BlockGene> blocks;  // one per block: depths[depth] of them
  friend bool operator==(const StageGene&, const StageGene&) = default;
};

struct Genome {
  std::size_t stem = 0;  // into space.stems
  std::vector<StageGene> stages;
  friend bool operator==(const Genome&, const Genome&) = default;
};

// "stem=0 | d1 w2 [3/0 5/1] | ...": the indices, for messages and test traces.
std::string to_string(const Genome& genome);

// The mixer options of a stage at its width index: mixer_options(space, stage, widths[width]),
// remembered per thread for the last space seen (computing them runs the registry's checks of
// every combination, which variation would otherwise repeat for every block it touches).
const std::vector<MixerSpec>& stage_options(const SearchSpace& space, std::size_t stage,
                                            std::size_t width);

// Each choice uniform over its list: the stem, per stage the width and depth, per block the mixer
// (among the options at the stage's width) and the MLP ratio.
Genome sample_genome(const SearchSpace& space, std::mt19937_64& rng);

// A block's genes drawn uniformly at a stage's width index.
BlockGene sample_block(const SearchSpace& space, std::size_t stage, std::size_t width,
                       std::mt19937_64& rng);

// The subnet the genome names. Throws InvalidArgument when `resolution` is not one of the space's
// resolutions (the only ones its options are checked at) or a gene is out of range (naming it:
// "genome: stages[2].blocks[1].mixer=30 out of range [0, 21)").
Arch decode(const SearchSpace& space, const Genome& genome, std::int64_t resolution);

// decode(space, sample_genome(space, rng), resolution).
Arch sample_arch(const SearchSpace& space, std::mt19937_64& rng, std::int64_t resolution);

// The genome of a subnet: decode(space, encode(space, arch), r) == arch. Throws InvalidArgument
// "encode: <is_subnet_of's reason>" when arch is not a subnet of the space.
Genome encode(const SearchSpace& space, const Arch& arch);

}  // namespace hwnas
