#include "bench/measure.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <limits>
#include <numeric>
#include <random>
#include <stdexcept>

#include "kernels/error.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::microseconds;

// A fake workload of known duration: busy-waits on the clock, so its time does not depend on the CPU's
// speed and it never finishes early (a sleep could be rounded up by the scheduler by ~50 us).
void spin_for(std::chrono::nanoseconds duration) {
  const Clock::time_point end = Clock::now() + duration;
  while (Clock::now() < end) {
  }
}

double total_ms(const Measurement& m) {
  return std::accumulate(m.samples_ms.begin(), m.samples_ms.end(), 0.0) * static_cast<double>(m.repeats);
}

// The test machine is shared: a spin can be pre-empted, which only ever makes a sample longer. The
// median of many samples is robust to that, so the upper bounds below are loose and the lower ones
// exact (a spin of d always takes >= d).
TEST(Measure, ConvergesOnASteadyWorkload) {
  const MeasurePolicy policy{.max_time_s = 3.0};
  const Measurement m = measure([] { spin_for(microseconds(200)); }, policy);
  EXPECT_TRUE(m.converged);
  EXPECT_EQ(m.stop, StopReason::CiConverged);
  EXPECT_LE(m.stats.median_ci_rel(), policy.ci_rel);
  EXPECT_EQ(m.repeats, 1);  // 200 us is already above min_sample_us
  EXPECT_GE(m.stats.median.count(), 0.2);
  EXPECT_LT(m.stats.median.count(), 0.4);
  EXPECT_TRUE(m.warmup_settled);
  EXPECT_GE(m.warmup_samples, 2 * policy.warmup_window);
  EXPECT_EQ(m.stats.n, std::ssize(m.samples_ms));
}

TEST(Measure, FloorsHoldAfterEarlyConvergence) {
  // A 1 ms spin converges within a handful of samples; the floors must keep it going.
  const MeasurePolicy policy{.min_samples = 40, .min_time_s = 0.1, .max_time_s = 3.0};
  const Measurement m = measure([] { spin_for(microseconds(1000)); }, policy);
  EXPECT_TRUE(m.converged);
  EXPECT_GE(std::ssize(m.samples_ms), 40);
  EXPECT_GE(total_ms(m), 100.0 * 0.99);  // the samples fill min_time_s, less the clock reads between them
}

// A workload with continuous noise: uniform in [100, 300] us, so the median's 95 % CI narrows only
// like ~1/sqrt(n) and a tiny ci_rel cannot be met. Seeded per test so a failure can be replayed.
struct NoisyWorkload {
  std::mt19937_64 rng;
  std::uniform_int_distribution<int> us{100, 300};
  void operator()() { spin_for(microseconds(us(rng))); }
};

TEST(Measure, MaxSamplesCaps) {
  NoisyWorkload work{std::mt19937_64(testing::fresh_seed("Measure.MaxSamplesCaps"))};
  const MeasurePolicy policy{.ci_rel = 1e-4, .min_time_s = 0, .max_samples = 200, .max_time_s = 5.0,
                             .max_cv = 10.0};
  const Measurement m = measure(std::ref(work), policy);
  EXPECT_FALSE(m.converged);
  EXPECT_EQ(m.stop, StopReason::MaxSamples);
  EXPECT_EQ(std::ssize(m.samples_ms), 200);
}

TEST(Measure, MaxTimeCaps) {
  NoisyWorkload work{std::mt19937_64(testing::fresh_seed("Measure.MaxTimeCaps"))};
  const MeasurePolicy policy{.ci_rel = 1e-4, .min_time_s = 0, .max_samples = 1'000'000, .max_time_s = 0.1,
                             .max_cv = 10.0};
  const Measurement m = measure(std::ref(work), policy);
  EXPECT_FALSE(m.converged);
  EXPECT_EQ(m.stop, StopReason::MaxTime);
  // The cap is wall time, CI checks included: the run lasted at least the cap, and only the last
  // sample can end past it. (How much of the cap the samples fill depends on the machine's load and
  // on sanitizers, so it is not asserted.)
  EXPECT_GE(m.elapsed_s, 0.1);
  EXPECT_LT(total_ms(m) - m.samples_ms.back(), 100.0);
  EXPECT_LT(std::ssize(m.samples_ms), 1000);  // 0.1 s of >= 100 us samples
}

TEST(Measure, CapsWinOverFloors) {
  const MeasurePolicy policy{.min_samples = 1000, .min_time_s = 0.05, .max_samples = 1000, .max_time_s = 0.05};
  const Measurement m = measure([] { spin_for(microseconds(1000)); }, policy);
  EXPECT_EQ(m.stop, StopReason::MaxTime);
  EXPECT_LE(std::ssize(m.samples_ms), 51);
}

TEST(Measure, BatchesTinyWorkloads) {
  std::int64_t calls = 0;
  // No re-measuring, so every call belongs to the one attempt reported.
  const MeasurePolicy policy{.min_sample_us = 100, .min_time_s = 0.05, .max_time_s = 1.0, .max_remeasures = 0};
  const Measurement m = measure(
      [&] {
        ++calls;
        spin_for(microseconds(2));
      },
      policy);
  // Each call takes >= 2 us, so a 100 us sample needs at most 50 of them; the clock reads inside the
  // spin make a call closer to 2.1 us, hence the lower bound.
  EXPECT_GE(m.repeats, 20);
  EXPECT_LE(m.repeats, 50);
  EXPECT_GE(m.stats.median.count(), 0.002);
  EXPECT_LT(m.stats.median.count(), 0.004);
  // A sample is the batch time divided by the repeats, and every call is accounted for.
  EXPECT_EQ(calls, m.warmup_runs + m.repeats * std::ssize(m.samples_ms));
}

TEST(Measure, WarmupAbsorbsASlowStart) {
  int calls = 0;
  // No re-measuring: a second attempt would start warm and hide what the first warm-up absorbed.
  const MeasurePolicy policy{.warmup_window = 3, .min_time_s = 0.02, .max_time_s = 2.0, .max_remeasures = 0};
  const Measurement m = measure(
      [&] { spin_for(microseconds(++calls <= 4 ? 3000 : 300)); }, policy);
  EXPECT_TRUE(m.warmup_settled);
  // Window medians tolerate one slow call in the earlier window: 4 slow calls, 2 fast ones to outvote
  // it, then a window of fast calls.
  EXPECT_GE(m.warmup_runs, 4 + 2 + 3);
  EXPECT_LT(m.stats.median.count(), 0.5);  // max would catch a leaked slow call, and a scheduler tick
}

TEST(Measure, WarmupGivesUpOnADriftingWorkload) {
  double us = 50;
  const MeasurePolicy policy{.warmup_window = 2, .warmup_rel_tol = 0.01, .max_warmup_samples = 8,
                             .max_warmup_s = 5.0, .min_sample_us = 0, .min_samples = 3, .min_time_s = 0,
                             .max_samples = 3, .max_cv = 10.0};
  const Measurement m = measure(
      [&] {
        spin_for(std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double, std::micro>(us)));
        us *= 1.2;  // every call 20 % slower: consecutive windows never agree within 1 %
      },
      policy);
  EXPECT_FALSE(m.warmup_settled);
  EXPECT_EQ(m.warmup_samples, 8);
  EXPECT_EQ(m.warmup_runs, 8);
}

TEST(Measure, HighCvIsRemeasuredOnceThenFlagged) {
  int calls = 0;
  MeasurePolicy policy = MeasurePolicy::quick();
  policy.max_remeasures = 1;
  policy.min_sample_us = 0;  // keep the two modes apart; batching would average them
  // Bimodal, 100 us and 1 ms alternately: p10 = 0.1 ms, p90 = 1 ms, so robust_cv >= 0.9 / 2.56 = 0.35
  // whichever mode the median falls in (the classic CV is ~0.8); far above max_cv = 0.1.
  const Measurement m = measure([&] { spin_for(microseconds(++calls % 2 ? 100 : 1000)); }, policy);
  EXPECT_GT(m.stats.robust_cv, policy.max_cv);
  EXPECT_GT(m.stats.cv, policy.max_cv);
  EXPECT_TRUE(m.high_cv);
  EXPECT_EQ(m.remeasures, 1);
}

TEST(Measure, ProgressReportsBothPhases) {
  int warmup = 0, repetitions = 0;
  std::int64_t last_samples = 0;
  const Measurement m = measure([] { spin_for(microseconds(200)); }, MeasurePolicy::quick(),
                                [&](const MeasureProgress& p) {
                                  if (p.phase == MeasureProgress::Phase::Warmup) {
                                    ++warmup;
                                  } else {
                                    ++repetitions;
                                    EXPECT_GT(p.samples, last_samples);
                                    EXPECT_GT(p.median.count(), 0.0);
                                    last_samples = p.samples;
                                  }
                                });
  EXPECT_EQ(warmup, m.warmup_samples);
  EXPECT_GE(repetitions, m.converged ? 1 : 0);
}

TEST(Measure, QuickIsQuick) {
  const auto start = Clock::now();
  const Measurement m = measure([] { spin_for(microseconds(100)); }, MeasurePolicy::quick());
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 0.5);
  EXPECT_GE(std::ssize(m.samples_ms), MeasurePolicy::quick().min_samples);
}

TEST(Measure, WorkloadExceptionsPropagate) {
  EXPECT_THROW(measure([] { throw std::runtime_error("boom"); }, MeasurePolicy::quick()), std::runtime_error);
}

TEST(MeasurePolicyCheck, DefaultsAndQuickAreValid) {
  EXPECT_NO_THROW(check(MeasurePolicy{}));
  EXPECT_NO_THROW(check(MeasurePolicy::quick()));
}

TEST(MeasurePolicyCheck, NamesTheBadField) {
  const auto expect_invalid = [](const MeasurePolicy& p, const std::string& substring) {
    try {
      check(p);
      FAIL() << "expected InvalidArgument containing " << substring;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
    }
  };
  expect_invalid({.min_samples = 50, .max_samples = 20}, "max_samples=20 must be >= min_samples=50");
  expect_invalid({.ci_rel = 0}, "ci_rel=0 must be in (0, 1)");
  expect_invalid({.ci_rel = std::numeric_limits<double>::quiet_NaN()}, "ci_rel=nan");
  expect_invalid({.min_time_s = 2, .max_time_s = 1}, "max_time_s=1 must be > 0 and >= min_time_s=2");
  expect_invalid({.warmup_window = 0}, "warmup_window=0 must be >= 1");
  expect_invalid({.bootstrap_resamples = 10}, "bootstrap_resamples=10 must be in [100, 100000]");
  expect_invalid({.max_remeasures = -1}, "max_remeasures=-1");
  // measure() checks before calling the workload.
  bool called = false;
  EXPECT_THROW(measure([&] { called = true; }, {.max_cv = 0}), InvalidArgument);
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace hwnas
