#include "bench/stats.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "kernels/error.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

// Statistics of a handful of doubles: a few ulps of rounding in the interpolation and the two-pass
// variance, nothing more.
constexpr double kTol = 1e-12;

void expect_invalid(const std::vector<double>& samples, const std::string& substring, int resamples = 1000) {
  try {
    summarize(samples, resamples);
    FAIL() << "expected InvalidArgument containing " << substring;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
  }
}

// Hand-computed: sorted 1..10, h = 9q. p10: h=0.9 -> 1.9; median: h=4.5 -> 5.5; p90: h=8.1 -> 9.1;
// p99: h=8.91 -> 9.91. Sum of squared deviations from 5.5 is 82.5, so stddev = sqrt(82.5 / 9).
// |x - 5.5| = {4.5,3.5,2.5,1.5,.5,.5,1.5,2.5,3.5,4.5}, whose median is 2.5.
TEST(Stats, OneToTenByHand) {
  const std::vector<double> samples{7, 3, 10, 1, 5, 2, 9, 4, 8, 6};  // order must not matter
  const SampleStats s = summarize(samples);
  EXPECT_EQ(s.n, 10);
  EXPECT_NEAR(s.min.count(), 1.0, kTol);
  EXPECT_NEAR(s.p10.count(), 1.9, kTol);
  EXPECT_NEAR(s.median.count(), 5.5, kTol);
  EXPECT_NEAR(s.p90.count(), 9.1, kTol);
  EXPECT_NEAR(s.p99.count(), 9.91, kTol);
  EXPECT_NEAR(s.max.count(), 10.0, kTol);
  EXPECT_NEAR(s.mean.count(), 5.5, kTol);
  EXPECT_NEAR(s.stddev.count(), std::sqrt(82.5 / 9.0), kTol);
  EXPECT_NEAR(s.mad.count(), 2.5, kTol);
  EXPECT_NEAR(s.cv, std::sqrt(82.5 / 9.0) / 5.5, kTol);
  EXPECT_NEAR(s.robust_cv, (9.1 - 1.9) / (2 * 1.2815515655446004 * 5.5), kTol);
  EXPECT_LE(s.median_ci.low.count(), 5.5);
  EXPECT_GE(s.median_ci.high.count(), 5.5);
}

// Sorted {1, 4, 7}, h = 2q. p10: 1 + 0.2 * 3 = 1.6; p90: 4 + 0.8 * 3 = 6.4; p99: 4 + 0.98 * 3 = 6.94.
// Deviations {3, 0, 3}: mad 3; variance (9 + 0 + 9) / 2 = 9.
TEST(Stats, ThreeSamplesByHand) {
  const SampleStats s = summarize(std::vector<double>{4, 1, 7});
  EXPECT_NEAR(s.p10.count(), 1.6, kTol);
  EXPECT_NEAR(s.median.count(), 4.0, kTol);
  EXPECT_NEAR(s.p90.count(), 6.4, kTol);
  EXPECT_NEAR(s.p99.count(), 6.94, kTol);
  EXPECT_NEAR(s.stddev.count(), 3.0, kTol);
  EXPECT_NEAR(s.mad.count(), 3.0, kTol);
  EXPECT_NEAR(s.cv, 0.75, kTol);
}

TEST(Stats, SingleSampleHasNoSpread) {
  const SampleStats s = summarize(std::vector<double>{2.5});
  EXPECT_EQ(s.n, 1);
  for (const Milliseconds v : {s.min, s.p10, s.median, s.p90, s.p99, s.max, s.mean, s.median_ci.low,
                               s.median_ci.high}) {
    EXPECT_EQ(v.count(), 2.5);
  }
  EXPECT_EQ(s.stddev.count(), 0.0);
  EXPECT_EQ(s.mad.count(), 0.0);
  EXPECT_EQ(s.cv, 0.0);
  EXPECT_EQ(s.median_ci_rel(), 0.0);
}

// One stray sample in 20 (5 %, below the 10 % the interdecile range ignores): mean 119 / 20 and a
// classic CV above 3, while the median, MAD and robust CV do not move.
TEST(Stats, RobustStatisticsIgnoreOneOutlier) {
  std::vector<double> samples(19, 1.0);
  samples.push_back(100.0);
  const SampleStats s = summarize(samples);
  EXPECT_EQ(s.median.count(), 1.0);
  EXPECT_EQ(s.mad.count(), 0.0);
  EXPECT_NEAR(s.mean.count(), 5.95, kTol);
  EXPECT_GT(s.cv, 3.0);
  EXPECT_EQ(s.robust_cv, 0.0);
  EXPECT_EQ(s.median_ci.low.count(), 1.0);
  EXPECT_EQ(s.median_ci.high.count(), 1.0);
}

TEST(Stats, StatisticOfReadsTheNamedField) {
  const SampleStats s = summarize(std::vector<double>{7, 3, 10, 1, 5, 2, 9, 4, 8, 6});
  EXPECT_EQ(statistic_of(s, Statistic::Min), s.min);
  EXPECT_EQ(statistic_of(s, Statistic::P10), s.p10);
  EXPECT_EQ(statistic_of(s, Statistic::Median), s.median);
  EXPECT_EQ(statistic_of(s, Statistic::P90), s.p90);
  EXPECT_EQ(statistic_of(s, Statistic::P99), s.p99);
  EXPECT_EQ(statistic_of(s, Statistic::Mean), s.mean);
}

// Two samples {1, 3}: a resample's median is 1, 2 or 3 with probability 1/4, 1/2, 1/4, so ~250 of
// 1000 resampled medians are 1 and ~250 are 3; the 2.5th and 97.5th percentiles are the extremes.
TEST(Stats, BootstrapOfTwoSamplesSpansBoth) {
  const SampleStats s = summarize(std::vector<double>{3, 1});
  EXPECT_EQ(s.median_ci.low.count(), 1.0);
  EXPECT_EQ(s.median_ci.high.count(), 3.0);
  EXPECT_DOUBLE_EQ(s.median_ci_rel(), 0.5);
}

// Against the exact bootstrap distribution. For sorted x_1 < ... < x_n, n odd, a resample's median
// is <= x_j exactly when at least (n + 1) / 2 of its n draws are <= x_j, so
// P(median <= x_j) = P(Binomial(n, j / n) >= (n + 1) / 2). With 1000 resamples the Monte-Carlo CI
// ends may miss the exact quantiles by one rank (standard error of a 2.5 % tail: 0.5 points).
TEST(Stats, BootstrapMatchesExactDistribution) {
  constexpr int n = 21;
  std::vector<double> sorted(n);
  for (int j = 0; j < n; ++j) sorted[static_cast<std::size_t>(j)] = j + 1;  // x_j = j
  const auto cdf = [&](int j) {  // P(Binomial(n, j/n) >= (n+1)/2)
    const double p = static_cast<double>(j) / n;
    double tail = 0;
    for (int i = (n + 1) / 2; i <= n; ++i) {
      tail += std::exp(std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0)) *
              std::pow(p, i) * std::pow(1 - p, n - i);
    }
    return tail;
  };
  const auto quantile = [&](double q) {
    int j = 1;
    while (cdf(j) < q) ++j;
    return static_cast<double>(j);
  };
  const MedianCi ci = bootstrap_median_ci(sorted, 1000);
  EXPECT_NEAR(ci.low.count(), quantile(0.025), 1.0) << "exact 2.5 % quantile x_" << quantile(0.025);
  EXPECT_NEAR(ci.high.count(), quantile(0.975), 1.0) << "exact 97.5 % quantile x_" << quantile(0.975);
}

TEST(Stats, BootstrapIsDeterministic) {
  std::mt19937_64 rng(testing::fresh_seed("Stats.BootstrapIsDeterministic"));
  std::lognormal_distribution<double> dist(0.0, 0.3);
  std::vector<double> samples(257);
  for (double& v : samples) v = dist(rng);
  const SampleStats a = summarize(samples);
  std::shuffle(samples.begin(), samples.end(), rng);
  const SampleStats b = summarize(samples);
  EXPECT_EQ(a.median_ci.low, b.median_ci.low);
  EXPECT_EQ(a.median_ci.high, b.median_ci.high);
}

// The CI's width against theory. A percentile-bootstrap CI of the median spans about
// +/- 1.96 * sqrt(n) / 2 ranks around the middle, so for n evenly spaced points on [0, 1] (spacing 1 / n)
// its half-width is 0.98 / sqrt(n): 0.049 at n = 400 and 0.0049 at n = 40000, the 1/sqrt(n) law. The
// sample is a grid rather than random draws: the spacing of ~40 random order statistics varies by
// ~20 %, which would make a tight bound flaky; the grid leaves only the bootstrap's own Monte-Carlo
// error (a rank or two of 20, hence 20 %).
TEST(Stats, BootstrapWidthShrinksLikeOneOverRootN) {
  for (const int n : {400, 40000}) {
    std::vector<double> grid(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) grid[static_cast<std::size_t>(i)] = (i + 0.5) / n;
    const MedianCi ci = bootstrap_median_ci(grid);
    const double half_width = 0.5 * (ci.high - ci.low).count();
    const double expected = 0.98 / std::sqrt(static_cast<double>(n));
    EXPECT_NEAR(half_width, expected, 0.2 * expected) << "n=" << n;
  }
}

TEST(StatsErrors, NameTheBadValue) {
  expect_invalid({}, "samples_ms is empty");
  expect_invalid({1.0, std::numeric_limits<double>::quiet_NaN()}, "samples_ms[1]=nan must be finite");
  expect_invalid({1.0, 2.0, -0.5}, "samples_ms[2]=-0.5 must be finite and >= 0");
  expect_invalid({1.0}, "resamples=0 must be >= 1", 0);
}

}  // namespace
}  // namespace hwnas
