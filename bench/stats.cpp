#include "bench/stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"

namespace hwnas {

namespace {

// splitmix64 (Steele, Lea and Flood 2014): tiny state, passes BigCrush, and fast enough that drawing
// 1000 x n indices costs less than sorting n doubles would.
class SplitMix64 {
 public:
  explicit SplitMix64(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n) for n < 2^32 by Lemire's multiply-shift on 32 random bits (a bias below n / 2^32),
  // so one 64-bit draw gives two indices.
  static std::uint32_t scale(std::uint64_t bits32, std::uint32_t n) {
    return static_cast<std::uint32_t>((bits32 * n) >> 32);
  }

 private:
  std::uint64_t state_;
};

// The same samples always give the same CI, and different samples independent resampling streams.
std::uint64_t seed_from(std::span<const double> values) {
  std::uint64_t h = 0xcbf29ce484222325ULL ^ values.size();  // FNV-1a offset basis
  for (const double v : values) h = (h ^ std::bit_cast<std::uint64_t>(v)) * 0x100000001b3ULL;
  return h;
}

}  // namespace

double percentile_sorted(std::span<const double> sorted, double q) {
  HWNAS_ASSERT(!sorted.empty() && q >= 0.0 && q <= 1.0);
  HWNAS_ASSERT(std::is_sorted(sorted.begin(), sorted.end()));
  const double h = static_cast<double>(sorted.size() - 1) * q;
  const auto lo = static_cast<std::size_t>(std::floor(h));
  if (lo + 1 >= sorted.size()) return sorted.back();
  return sorted[lo] + (h - static_cast<double>(lo)) * (sorted[lo + 1] - sorted[lo]);
}

MedianCi bootstrap_median_ci(std::span<const double> sorted_ms, int resamples) {
  if (sorted_ms.empty()) throw InvalidArgument("stats: bootstrap needs at least one sample, got 0");
  if (resamples < 1) {
    throw InvalidArgument(fmt::format("stats: bootstrap resamples={} must be >= 1", resamples));
  }
  if (sorted_ms.size() >= (std::size_t{1} << 32)) {
    throw InvalidArgument(fmt::format("stats: bootstrap of n={} samples must have n < 2^32", sorted_ms.size()));
  }
  HWNAS_ASSERT(std::is_sorted(sorted_ms.begin(), sorted_ms.end()));
  const auto n = static_cast<std::uint32_t>(sorted_ms.size());
  // A resample's median only depends on how often each sorted sample was drawn, so count the draws
  // and walk the counts to the middle order statistics: O(n) per resample, no sort, no copy.
  const std::uint32_t k_lo = (n - 1) / 2, k_hi = n / 2;
  SplitMix64 rng(seed_from(sorted_ms));
  std::vector<std::uint32_t> counts(n);
  std::vector<double> medians(static_cast<std::size_t>(resamples));
  for (double& median : medians) {
    std::fill(counts.begin(), counts.end(), 0u);
    for (std::uint32_t i = 0; i + 1 < n; i += 2) {
      const std::uint64_t bits = rng.next();
      ++counts[SplitMix64::scale(bits >> 32, n)];
      ++counts[SplitMix64::scale(bits & 0xffffffffu, n)];
    }
    if (n % 2 != 0) ++counts[SplitMix64::scale(rng.next() >> 32, n)];
    std::uint32_t seen = 0;
    double lo = 0;
    for (std::uint32_t j = 0; j < n; ++j) {
      const std::uint32_t before = seen;
      seen += counts[j];
      if (before <= k_lo && k_lo < seen) lo = sorted_ms[j];
      if (k_hi < seen) {
        median = 0.5 * (lo + sorted_ms[j]);  // numpy's median: mean of the middle two when n is even
        break;
      }
    }
  }
  std::sort(medians.begin(), medians.end());
  return {.low = Milliseconds(percentile_sorted(medians, 0.025)),
          .high = Milliseconds(percentile_sorted(medians, 0.975))};
}

double SampleStats::median_ci_rel() const {
  if (median.count() == 0) return 0;
  return std::max(median.count() - median_ci.low.count(), median_ci.high.count() - median.count()) /
         median.count();
}

SampleStats summarize(std::span<const double> samples_ms, int bootstrap_resamples) {
  if (samples_ms.empty()) throw InvalidArgument("stats: samples_ms is empty; need at least one sample");
  for (std::size_t i = 0; i < samples_ms.size(); ++i) {
    if (!std::isfinite(samples_ms[i]) || samples_ms[i] < 0) {
      throw InvalidArgument(
          fmt::format("stats: samples_ms[{}]={} must be finite and >= 0", i, samples_ms[i]));
    }
  }
  std::vector<double> sorted(samples_ms.begin(), samples_ms.end());
  std::sort(sorted.begin(), sorted.end());
  const auto n = static_cast<double>(sorted.size());
  const auto ms = [](double v) { return Milliseconds(v); };

  SampleStats s;
  s.n = static_cast<std::int64_t>(sorted.size());
  s.min = ms(sorted.front());
  s.max = ms(sorted.back());
  s.p10 = ms(percentile_sorted(sorted, 0.10));
  s.median = ms(percentile_sorted(sorted, 0.50));
  s.p90 = ms(percentile_sorted(sorted, 0.90));
  s.p99 = ms(percentile_sorted(sorted, 0.99));

  // Two passes: the textbook one-pass formula cancels catastrophically when stddev << mean, which is
  // exactly the case of a stable timing.
  double sum = 0;
  for (const double v : sorted) sum += v;
  const double mean = sum / n;
  double squares = 0;
  for (const double v : sorted) squares += (v - mean) * (v - mean);
  s.mean = ms(mean);
  s.stddev = ms(sorted.size() > 1 ? std::sqrt(squares / (n - 1)) : 0.0);
  s.cv = mean > 0 ? s.stddev.count() / mean : 0.0;

  std::vector<double> deviations(sorted.size());
  for (std::size_t i = 0; i < sorted.size(); ++i) deviations[i] = std::abs(sorted[i] - s.median.count());
  std::sort(deviations.begin(), deviations.end());
  s.mad = ms(percentile_sorted(deviations, 0.5));
  // For normal data p90 - p10 = 2 * Phi^-1(0.9) * sigma.
  constexpr double kInterdecilePerSigma = 2 * 1.2815515655446004;
  s.robust_cv = s.median.count() > 0
                    ? (s.p90 - s.p10).count() / (kInterdecilePerSigma * s.median.count())
                    : 0.0;

  s.median_ci = bootstrap_median_ci(sorted, bootstrap_resamples);
  return s;
}

Milliseconds statistic_of(const SampleStats& stats, Statistic statistic) {
  switch (statistic) {
    case Statistic::Min: return stats.min;
    case Statistic::P10: return stats.p10;
    case Statistic::Median: return stats.median;
    case Statistic::P90: return stats.p90;
    case Statistic::P99: return stats.p99;
    case Statistic::Mean: return stats.mean;
  }
  HWNAS_ASSERT(false && "unhandled Statistic");
  return stats.median;
}

}  // namespace hwnas
