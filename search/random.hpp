// The search's random numbers (STYLE.md §8): every draw comes from a std::mt19937_64 the caller
// owns, and each stream is seeded from (seed, generation, purpose), so a search resumed at a
// generation draws exactly what an uninterrupted one would have drawn there.
//
// The helpers below are written out instead of using std::uniform_*_distribution, whose results
// the standard leaves to the library: the same seed gives the same search with any standard
// library.
#pragma once

#include <cstddef>
#include <cstdint>
#include <random>

namespace hwnas {

// Which stream of a generation: the initial sample, or the offspring's parents and variation.
enum class RngPurpose : std::uint64_t { Initial = 1, Offspring = 2 };

// A generator seeded from the three through splitmix64, so neighbouring seeds and generations
// give unrelated streams.
std::mt19937_64 make_rng(std::uint64_t seed, std::int64_t generation, RngPurpose purpose);

// Uniform in [0, n); n must be > 0. Rejection keeps it unbiased; it ends after one draw with
// probability > 1 - n / 2^64.
std::size_t uniform_index(std::mt19937_64& rng, std::size_t n);

// Uniform in [0, 1) with 53 random bits.
double uniform_unit(std::mt19937_64& rng);

}  // namespace hwnas
