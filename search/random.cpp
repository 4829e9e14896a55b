#include "search/random.hpp"

#include <limits>

namespace hwnas {
namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

std::mt19937_64 make_rng(std::uint64_t seed, std::int64_t generation, RngPurpose purpose) {
  std::uint64_t state = splitmix64(seed);
  state = splitmix64(state ^ static_cast<std::uint64_t>(generation));
  state = splitmix64(state ^ static_cast<std::uint64_t>(purpose));
  return std::mt19937_64(state);
}

std::size_t uniform_index(std::mt19937_64& rng, std::size_t n) {
  const std::uint64_t range = static_cast<std::uint64_t>(n);
  // The largest multiple of n representable: draws at or above it would favour small indices.
  const std::uint64_t limit =
      std::numeric_limits<std::uint64_t>::max() - std::numeric_limits<std::uint64_t>::max() % range;
  std::uint64_t draw = rng();
  while (draw >= limit) draw = rng();
  return static_cast<std::size_t>(draw % range);
}

double uniform_unit(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

}  // namespace hwnas
