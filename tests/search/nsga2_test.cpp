#include "search/nsga2.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "search/hypervolume.hpp"
#include "search/random.hpp"
#include "tests/search/search_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::expect_invalid;
using Fronts = std::vector<std::vector<std::size_t>>;
constexpr double kInf = std::numeric_limits<double>::infinity();

// 1 duplicates point 1 at index 5; 3 is dominated by 1 only, 4 by 1, 2 and 3, 6 by everything.
std::vector<Fitness> hand_set() {
  return {{{1, 5}, 0}, {{2, 3}, 0}, {{3, 1}, 0}, {{2, 4}, 0},
          {{4, 4}, 0}, {{2, 3}, 0}, {{5, 5}, 0}};
}

TEST(Nsga2, ConstrainedDomination) {
  const Fitness feasible{{10, 10}, 0}, slightly_over{{1, 1}, 0.1}, far_over{{0, 0}, 0.3};
  EXPECT_TRUE(dominates(feasible, slightly_over));
  EXPECT_FALSE(dominates(slightly_over, feasible));
  EXPECT_TRUE(dominates(slightly_over, far_over));
  EXPECT_FALSE(dominates(far_over, slightly_over));
  const Fitness same_violation{{5, 5}, 0.1};
  EXPECT_FALSE(dominates(slightly_over, same_violation));
  EXPECT_FALSE(dominates(same_violation, slightly_over));
  const Fitness a{{1, 2}, 0}, b{{2, 1}, 0}, c{{1, 3}, 0};
  EXPECT_FALSE(dominates(a, b));
  EXPECT_FALSE(dominates(b, a));
  EXPECT_TRUE(dominates(a, c));
  EXPECT_FALSE(dominates(c, a));
  EXPECT_FALSE(dominates(a, a));
}

TEST(Nsga2, NonDominatedSortWithDuplicatesAndInfeasiblePoints) {
  std::vector<Fitness> points = hand_set();
  EXPECT_EQ(non_dominated_sort(points), (Fronts{{0, 1, 2, 5}, {3}, {4}, {6}}));
  points.push_back({{0, 0}, 0.5});
  points.push_back({{9, 9}, 0.2});
  points.push_back({{0, 0}, 0.2});  // ties with 8 on violation: same front
  EXPECT_EQ(non_dominated_sort(points), (Fronts{{0, 1, 2, 5}, {3}, {4}, {6}, {8, 9}, {7}}));
  EXPECT_TRUE(non_dominated_sort(std::vector<Fitness>{}).empty());
}

TEST(Nsga2, CrowdingDistanceByHand) {
  const std::vector<Fitness> points = hand_set();
  const std::vector<std::size_t> front{0, 1, 2, 5};
  // Objective 0 sorted: 0 (1), 1 (2), 5 (2), 2 (3), range 2; objective 1: 2 (1), 1 (3), 5 (3),
  // 0 (5), range 4. Members 1 and 5: (2-1)/2 + (3-1)/4 and (3-2)/2 + (5-3)/4.
  const std::vector<double> got = crowding_distance(points, front);
  EXPECT_EQ(got[0], kInf);
  EXPECT_DOUBLE_EQ(got[1], 1.0);
  EXPECT_EQ(got[2], kInf);
  EXPECT_DOUBLE_EQ(got[3], 1.0);
  const std::vector<std::size_t> single{3}, pair{3, 4};
  EXPECT_EQ(crowding_distance(points, single), (std::vector<double>{kInf}));
  EXPECT_EQ(crowding_distance(points, pair), (std::vector<double>{kInf, kInf}));
  // No spread in an objective: its extremes (the first and last by index) still get +inf.
  const std::vector<Fitness> flat{{{1, 7}, 0}, {{2, 7}, 0}, {{3, 7}, 0}, {{4, 7}, 0}};
  const std::vector<std::size_t> all{0, 1, 2, 3};
  EXPECT_EQ(crowding_distance(flat, all), (std::vector<double>{kInf, 2.0 / 3, 2.0 / 3, kInf}));
}

TEST(Nsga2, RankPointsAndSurvivorSelection) {
  const std::vector<Fitness> points = hand_set();
  const Ranking ranking = rank_points(points);
  EXPECT_EQ(ranking.rank, (std::vector<int>{0, 0, 0, 1, 2, 0, 3}));
  EXPECT_DOUBLE_EQ(ranking.crowding[5], 1.0);
  EXPECT_EQ(ranking.crowding[4], kInf);
  EXPECT_EQ(select_survivors(points, 5), (std::vector<std::size_t>{0, 1, 2, 5, 3}));
  // The first front truncated: its extremes first, then the crowding tie by index.
  EXPECT_EQ(select_survivors(points, 3), (std::vector<std::size_t>{0, 2, 1}));
  EXPECT_EQ(select_survivors(points, 0), (std::vector<std::size_t>{}));
  expect_invalid([&] { select_survivors(points, 8); },
                 "select_survivors: count=8 exceeds the 7 points");
}

TEST(Nsga2, BinaryTournamentPrefersRankThenCrowding) {
  std::mt19937_64 rng(testing::fresh_seed("tournament"));
  const Ranking by_rank{.rank = {1, 0}, .crowding = {kInf, 0.1}};
  const Ranking by_crowding{.rank = {0, 0}, .crowding = {0.5, 2.0}};
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(binary_tournament(by_rank, rng), 1u);
    EXPECT_EQ(binary_tournament(by_crowding, rng), 1u);
  }
  // With many points every one can be drawn, and the worst never wins.
  const Ranking many{.rank = {0, 1, 2, 3}, .crowding = {1, 1, 1, 1}};
  std::vector<int> wins(4, 0);
  for (int i = 0; i < 400; ++i) ++wins[binary_tournament(many, rng)];
  EXPECT_GT(wins[0], 0);
  EXPECT_GT(wins[2], 0);
  EXPECT_EQ(wins[3], 0);
  const Ranking one{.rank = {0}, .crowding = {kInf}};
  expect_invalid([&] { binary_tournament(one, rng); },
                 "binary_tournament: needs at least 2 points, got 1");
}

TEST(Hypervolume, TwoDimensionsByHand) {
  // (1,3) and (2,1) w.r.t. (4,4): boxes 3x1 and 2x3 overlapping in 2x1, 3 + 6 - 2 = 7. The
  // dominated (3,3), the duplicate and the points not strictly inside the box add nothing.
  const std::vector<std::vector<double>> points{{1, 3}, {2, 1}, {3, 3}, {2, 1}, {5, 0}, {4, 0}};
  const std::vector<double> reference{4, 4};
  EXPECT_DOUBLE_EQ(hypervolume(points, reference), 7.0);
  EXPECT_DOUBLE_EQ(hypervolume(std::vector<std::vector<double>>{}, reference), 0.0);
  const std::vector<std::vector<double>> line{{3}, {1}, {5}};
  EXPECT_DOUBLE_EQ(hypervolume(line, std::vector<double>{4}), 3.0);
}

TEST(Hypervolume, ThreeAndFourDimensionsByHand) {
  // Boxes A = [1,4]x[1,4]x[3,4] (9), B = [2,4]x[2,4]x[1,4] (12), C = [3,4]x[1,4]x[2,4] (6);
  // A&B 4, A&C 3, B&C 4, A&B&C 2: 9 + 12 + 6 - 4 - 3 - 4 + 2 = 18.
  const std::vector<double> reference{4, 4, 4};
  const std::vector<std::vector<double>> two{{1, 1, 3}, {2, 2, 1}};
  EXPECT_DOUBLE_EQ(hypervolume(two, reference), 17.0);
  const std::vector<std::vector<double>> three{{1, 1, 3}, {2, 2, 1}, {3, 1, 2}};
  EXPECT_DOUBLE_EQ(hypervolume(three, reference), 18.0);
  const std::vector<std::vector<double>> four{{1, 1, 1, 1}, {1.5, 2, 1.5, 1.5}};
  EXPECT_DOUBLE_EQ(hypervolume(four, std::vector<double>{2, 3, 2, 2}), 2.0);
}

// Integer points on a grid: the volume is the number of unit cells some point dominates.
TEST(Hypervolume, MatchesCellCountingOnRandomIntegerSets) {
  std::mt19937_64 rng(testing::fresh_seed("hypervolume cells"));
  constexpr int kSide = 6;
  for (std::size_t dims = 2; dims <= 4; ++dims) {
    for (int trial = 0; trial < 20; ++trial) {
      std::vector<std::vector<double>> points(1 + uniform_index(rng, 9));
      for (auto& p : points) {
        for (std::size_t m = 0; m < dims; ++m) {
          p.push_back(static_cast<double>(uniform_index(rng, kSide + 1)));
        }
      }
      const std::vector<double> reference(dims, kSide);
      std::size_t cells = 1, count = 0;
      for (std::size_t m = 0; m < dims; ++m) cells *= kSide;
      for (std::size_t cell = 0; cell < cells; ++cell) {
        std::vector<int> corner;
        for (std::size_t m = 0, rest = cell; m < dims; ++m, rest /= kSide) {
          corner.push_back(static_cast<int>(rest % kSide));
        }
        const bool covered = std::any_of(points.begin(), points.end(), [&](const auto& p) {
          for (std::size_t m = 0; m < dims; ++m) {
            if (p[m] > corner[m]) return false;
          }
          return true;
        });
        count += covered ? 1 : 0;
      }
      EXPECT_DOUBLE_EQ(hypervolume(points, reference), static_cast<double>(count))
          << "dims " << dims << " trial " << trial;
    }
  }
}

TEST(Hypervolume, Errors) {
  const std::vector<std::vector<double>> points{{1, 2}, {1, 2, 3}};
  expect_invalid(
      [&] {
        hypervolume(points, std::vector<double>{4, 4});
      },
      "hypervolume: point 1 has 3 objectives, the reference 2");
  expect_invalid([&] { hypervolume(points, std::vector<double>{}); },
                 "hypervolume: empty reference point");
  const std::vector<std::vector<double>> nan{{1, std::nan("")}};
  expect_invalid(
      [&] {
        hypervolume(nan, std::vector<double>{4, 4});
      },
      "hypervolume: point 0 objective 1 = nan is not finite");
  expect_invalid(
      [&] {
        hypervolume(nan, std::vector<double>{4, kInf});
      },
      "hypervolume: reference value inf is not finite");
}

}  // namespace
}  // namespace hwnas
