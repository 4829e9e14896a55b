// NSGA-II's selection machinery (Deb et al. 2002) with Deb's constraint handling: fast
// non-dominated sort, crowding distance, binary tournament, environmental selection. Pure
// functions of objective vectors; search_loop.hpp wires them to architectures.
//
// Every objective is minimised (the search negates quality). A point's violation is the sum of
// its relative budget overshoots (0 = feasible). Ties are broken by index, never at random, so a
// selection is a function of its input order.
#pragma once

#include <cstddef>
#include <random>
#include <span>
#include <vector>

namespace hwnas {

struct Fitness {
  std::vector<double> objectives;  // minimised, same length for every point of a set
  double violation = 0;            // >= 0; 0 = feasible
};

// Constrained domination: a feasible point beats an infeasible one; of two infeasible points the
// smaller violation wins; of two feasible ones, Pareto domination (no objective worse, one
// better). Equal points do not dominate each other.
bool dominates(const Fitness& a, const Fitness& b);

// The fronts under constrained domination, best first; each front's indices ascending. Equal
// points share a front.
std::vector<std::vector<std::size_t>> non_dominated_sort(std::span<const Fitness> points);

// Crowding distance of each member of `front` (indices into points), in front order: per
// objective the two extreme members (ties by index) get +inf, the others the normalised gap
// between their neighbours, summed over objectives; an objective with no spread adds nothing
// beyond its extremes.
std::vector<double> crowding_distance(std::span<const Fitness> points,
                                      std::span<const std::size_t> front);

struct Ranking {
  std::vector<int> rank;         // front index per point, 0 = best
  std::vector<double> crowding;  // within its front
};
Ranking rank_points(std::span<const Fitness> points);

// The better of two distinct, uniformly drawn points (lower rank, then larger crowding, then the
// first drawn). Needs at least two points.
std::size_t binary_tournament(const Ranking& ranking, std::mt19937_64& rng);

// The `count` survivors of `points` (count <= size): whole fronts in order while they fit, then
// the last front's most crowded-apart members (ties by index). Indices in that order.
std::vector<std::size_t> select_survivors(std::span<const Fitness> points, std::size_t count);

}  // namespace hwnas
