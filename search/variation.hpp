// Variation operators of the evolutionary search, on genomes (search/genome.hpp). Both always
// yield a genome that decodes to a valid subnet of the space: every gene they write is an index
// drawn from, or kept within, its list at the stage's current width.
//
//   Genome child = crossover(space, mother, father, rng);
//   child = mutate(space, child, 0.15, rng);
#pragma once

#include <random>

#include "search/genome.hpp"
#include "supernet/search_space.hpp"

namespace hwnas {

// Each choice resampled uniformly over its list (possibly to the same value) with probability
// p: the stem; per stage the width, then the depth, then per block the mixer and the MLP ratio.
// A new width keeps each block's mixer where the new width has the same option (the heads a
// head_dim derives from the width may differ) and resamples the others; a deeper stage gets
// uniformly drawn new blocks, a shallower one drops its last blocks. Throws InvalidArgument for
// p outside [0, 1].
Genome mutate(const SearchSpace& space, const Genome& parent, double p, std::mt19937_64& rng);

// Uniform per stage: depth, width and blocks of each stage come together from one parent (the
// stem from either), then each block present in both parents' stages at the same width is taken
// from either parent.
Genome crossover(const SearchSpace& space, const Genome& first, const Genome& second,
                 std::mt19937_64& rng);

}  // namespace hwnas
