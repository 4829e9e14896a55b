// Interleaved timing: every round measures every workload once, starting one further each round.
#include "bench/interleaved.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"

namespace hwnas {
namespace {

TEST(Interleaved, RotatesTheOrderAndMeasuresEachWorkloadPerRound) {
  std::vector<int> calls(3, 0);
  std::vector<std::function<void()>> workloads;
  for (int i = 0; i < 3; ++i) workloads.push_back([&calls, i] { ++calls[i]; });
  std::vector<std::pair<int, std::size_t>> order;
  const InterleavedResult r =
      measure_interleaved(workloads, {.rounds = 4, .policy = MeasurePolicy::quick()},
                          [&](int round, std::size_t w, const Measurement& m) {
                            EXPECT_GT(m.stats.n, 0);
                            order.emplace_back(round, w);
                          });
  ASSERT_EQ(r.rounds.size(), 4u);
  for (const auto& round : r.rounds) {
    ASSERT_EQ(round.size(), 3u);
    for (const Measurement& m : round) EXPECT_GT(m.stats.median.count(), 0);
  }
  const std::vector<std::pair<int, std::size_t>> expected = {{0, 0}, {0, 1}, {0, 2}, {1, 1},
                                                             {1, 2}, {1, 0}, {2, 2}, {2, 0},
                                                             {2, 1}, {3, 0}, {3, 1}, {3, 2}};
  EXPECT_EQ(order, expected);
  for (int c : calls) EXPECT_GT(c, 4);
}

TEST(Interleaved, RefusesNothingToDo) {
  const auto message = [](const auto& f) {
    try {
      f();
    } catch (const InvalidArgument& e) {
      return std::string(e.what());
    }
    return std::string("nothing thrown");
  };
  EXPECT_EQ(message([] { measure_interleaved({}, {}); }), "interleaved: no workloads to measure");
  const std::vector<std::function<void()>> one = {[] {}};
  EXPECT_EQ(message([&] { measure_interleaved(one, {.rounds = 0}); }),
            "interleaved: rounds=0 must be >= 1");
}

}  // namespace
}  // namespace hwnas
