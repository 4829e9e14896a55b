#include "search/predictor_error.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "tests/search/search_test_util.hpp"

namespace hwnas {
namespace {

using testing::expect_invalid;

TEST(PredictorError, HandComputedPairsWithTiesOnBothSides) {
  const std::vector<double> predicted{1, 2, 2, 3}, measured{1, 3, 2, 2};
  const PredictorError e = predictor_error(predicted, measured);
  EXPECT_EQ(e.n, 4u);
  // Percentage errors 0, 33.3, 0, 50.
  EXPECT_NEAR(e.mape_pct, (100.0 / 3 + 50) / 4, 1e-12);
  EXPECT_NEAR(e.worst_ape_pct, 50, 1e-12);
  EXPECT_DOUBLE_EQ(e.within_5pct, 0.5);
  EXPECT_DOUBLE_EQ(e.within_10pct, 0.5);
  // 6 pairs: 3 concordant, 1 discordant, (1,2) tied in predicted, (2,3) tied in measured:
  // (3 - 1) / sqrt(5 * 5).
  EXPECT_NEAR(e.kendall_tau, 0.4, 1e-12);
}

TEST(PredictorError, TauBWithOneTieInPredicted) {
  const std::vector<double> predicted{3.1, 1.2, 2.5, 2.5, 0.7}, measured{30, 12, 22, 25, 7};
  // 10 pairs: 9 concordant, 1 tied in predicted only: 9 / sqrt(9 * 10).
  EXPECT_NEAR(predictor_error(predicted, measured).kendall_tau, 9 / std::sqrt(90.0), 1e-12);
}

TEST(PredictorError, BandsIncludeTheirEdgesAndTauIsUndefinedWhenOneSideIsConstant) {
  const std::vector<double> predicted{105, 90, 110, 100}, measured{100, 100, 100, 100};
  const PredictorError e = predictor_error(predicted, measured);
  EXPECT_NEAR(e.mape_pct, 6.25, 1e-12);
  EXPECT_NEAR(e.worst_ape_pct, 10, 1e-12);
  EXPECT_DOUBLE_EQ(e.within_5pct, 0.5);
  EXPECT_DOUBLE_EQ(e.within_10pct, 1.0);
  EXPECT_TRUE(std::isnan(e.kendall_tau));
}

TEST(PredictorError, PerfectAndReversedRankings) {
  const std::vector<double> measured{1.5, 2.25, 7.0, 3.5};
  const std::vector<double> scaled{3.0, 4.5, 14.0, 7.0}, reversed{4.0, 3.0, 1.0, 2.0};
  const PredictorError same = predictor_error(scaled, measured);
  EXPECT_DOUBLE_EQ(same.kendall_tau, 1.0);
  EXPECT_NEAR(same.mape_pct, 100, 1e-12);
  EXPECT_DOUBLE_EQ(same.within_10pct, 0.0);
  EXPECT_DOUBLE_EQ(predictor_error(reversed, measured).kendall_tau, -1.0);
  const std::vector<double> one{2.0};
  EXPECT_TRUE(std::isnan(predictor_error(one, one).kendall_tau));
  EXPECT_EQ(predictor_error(one, one).mape_pct, 0.0);
}

TEST(PredictorError, Errors) {
  const std::vector<double> two{1.0, 2.0}, three{1.0, 2.0, 3.0}, none;
  expect_invalid([&] { predictor_error(two, three); },
                 "predictor_error: 2 predicted but 3 measured values");
  expect_invalid([&] { predictor_error(none, none); }, "predictor_error: no pairs");
  const std::vector<double> zero{1.0, 0.0};
  expect_invalid([&] { predictor_error(two, zero); },
                 "predictor_error: measured[1]=0 must be finite and > 0");
  const std::vector<double> nan{1.0, std::nan("")};
  expect_invalid([&] { predictor_error(nan, two); },
                 "predictor_error: predicted[1]=nan must be finite");
}

}  // namespace
}  // namespace hwnas
