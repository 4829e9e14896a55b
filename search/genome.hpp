// STAND-IN for wt/nsga's search/genome.hpp until it is merged: only sample_arch, with the same
// signature and the same distribution (each choice uniform). Drop this commit when merging wt/nsga.
#pragma once

#include <cstdint>
#include <random>

#include "supernet/arch.hpp"
#include "supernet/search_space.hpp"

namespace hwnas {

// Each choice uniform over its list: the stem, per stage the width and depth, per block the mixer
// (among the options at the stage's width) and the MLP ratio. Throws InvalidArgument when
// `resolution` is not one of the space's resolutions.
Arch sample_arch(const SearchSpace& space, std::mt19937_64& rng, std::int64_t resolution);

}  // namespace hwnas
