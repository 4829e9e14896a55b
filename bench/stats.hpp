// Summary statistics of a latency sample: what every measurement stores next to its raw samples.
//
// Definitions (stated so numbers from different tools can be compared):
// - percentile(q): numpy's default ("linear"): with the samples sorted x[0] <= ... <= x[n-1] and
//   h = (n - 1) * q, the value x[floor(h)] + (h - floor(h)) * (x[floor(h) + 1] - x[floor(h)]).
//   The median is percentile(0.5), so for even n it is the mean of the two middle samples.
// - stddev: the sample standard deviation (n - 1 in the denominator); 0 for a single sample.
// - mad: the median absolute deviation from the median, unscaled (multiply by 1.4826 for a
//   normal-consistent estimate of sigma).
// - cv: stddev / mean, the coefficient of variation.
// - robust_cv: (p90 - p10) / (2.5631 * median), where 2.5631 = 2 * Phi^-1(0.9), so it equals cv for
//   normal data. It ignores up to 10 % of stray samples (a scheduler tick, an interrupt), which
//   dominate stddev: on the 2-core VM this was written on, three 4 ms ticks among 1500 samples of
//   0.2 ms put cv at ~0.8 and robust_cv at ~0.001. It still sees any mode holding more than 10 % of
//   the samples, which MAD (breakdown 50 %) misses as soon as a two-mode distribution is unbalanced.
// - median CI: a percentile bootstrap, 95 % (the 2.5th and 97.5th percentiles of the medians of
//   `resamples` resamples drawn with replacement). The generator is seeded from the data, so the
//   same samples always give the same interval.
#pragma once

#include <cstdint>
#include <span>

#include "bench/latency.hpp"

namespace hwnas {

// 1000 resamples put the Monte-Carlo error of a 2.5 % tail at about sqrt(.025 * .975 / 1000) = 0.5
// percentage points of coverage, well below what a 1 % stopping rule can resolve.
inline constexpr int kDefaultBootstrapResamples = 1000;

struct MedianCi {
  Milliseconds low{0};
  Milliseconds high{0};
};

struct SampleStats {
  std::int64_t n = 0;
  Milliseconds min{0}, p10{0}, median{0}, p90{0}, p99{0}, max{0};
  Milliseconds mean{0};
  Milliseconds stddev{0};
  Milliseconds mad{0};
  double cv = 0;         // stddev / mean; 0 when the mean is 0
  double robust_cv = 0;  // (p90 - p10) / (2.5631 * median); 0 when the median is 0
  MedianCi median_ci;  // 95 % bootstrap confidence interval of the median

  // The CI's larger distance from the median, relative to the median: the quantity the timing
  // protocol's stopping rule compares with MeasurePolicy::ci_rel. 0 when the median is 0.
  double median_ci_rel() const;
};

// Throws InvalidArgument if samples_ms is empty, holds a NaN/infinity or a negative value, or
// bootstrap_resamples < 1.
SampleStats summarize(std::span<const double> samples_ms,
                      int bootstrap_resamples = kDefaultBootstrapResamples);

// The pieces summarize() is built from; measure() uses the CI alone to decide when to stop.
// Both take the samples already sorted ascending (asserted in debug builds), q in [0, 1].
double percentile_sorted(std::span<const double> sorted, double q);
MedianCi bootstrap_median_ci(std::span<const double> sorted_ms,
                             int resamples = kDefaultBootstrapResamples);

// The statistic a Latency names, read out of a summary.
Milliseconds statistic_of(const SampleStats& stats, Statistic statistic);

}  // namespace hwnas
