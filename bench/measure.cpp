#include "bench/measure.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <span>

#include "kernels/error.hpp"

namespace hwnas {

namespace {

using Clock = std::chrono::steady_clock;
static_assert(Clock::is_steady, "timing needs a monotonic clock");

double seconds_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// One sample: the wall time of `repeats` back-to-back calls, per call, in milliseconds.
struct Batch {
  double per_run_ms;
  Clock::time_point end;
};
Batch time_batch(const std::function<void()>& run, std::int64_t repeats) {
  const Clock::time_point start = Clock::now();
  for (std::int64_t i = 0; i < repeats; ++i) run();
  const Clock::time_point end = Clock::now();
  return {.per_run_ms = std::chrono::duration<double, std::milli>(end - start).count() /
                        static_cast<double>(repeats),
          .end = end};
}

// Calls per sample so that a sample lasts at least min_sample_us.
std::int64_t repeats_for(double per_run_ms, std::int64_t current, const MeasurePolicy& p) {
  // A call too short for the clock to see: grow geometrically until it shows up.
  if (per_run_ms <= 0) return std::min(p.max_repeats, current * 100);
  const double wanted = std::ceil(p.min_sample_us * 1e-3 / per_run_ms);
  return static_cast<std::int64_t>(std::clamp(wanted, 1.0, static_cast<double>(p.max_repeats)));
}

double median_of(std::span<const double> values) {
  std::vector<double> sorted(values.begin(), values.end());
  std::sort(sorted.begin(), sorted.end());
  return percentile_sorted(sorted, 0.5);
}

struct Warmup {
  std::int64_t runs = 0;
  int samples = 0;
  std::int64_t repeats = 1;
  bool settled = false;
};

Warmup warm_up(const std::function<void()>& run, const MeasurePolicy& p, const ProgressCallback& progress,
               int attempt) {
  Warmup w;
  const auto window = static_cast<std::size_t>(p.warmup_window);
  std::vector<double> per_run_ms;
  const Clock::time_point start = Clock::now();
  for (;;) {
    const Batch b = time_batch(run, w.repeats);
    w.runs += w.repeats;
    per_run_ms.push_back(b.per_run_ms);
    // Re-estimated from every sample: the first call is usually the slowest (page faults, caches),
    // so the estimate only grows to its final value as the workload warms.
    w.repeats = repeats_for(b.per_run_ms, w.repeats, p);
    const double elapsed_s = seconds_between(start, b.end);
    if (per_run_ms.size() >= 2 * window) {
      const std::span<const double> recent = std::span(per_run_ms).last(2 * window);
      const double before = median_of(recent.first(window));
      const double last = median_of(recent.last(window));
      w.settled = std::abs(last - before) <= p.warmup_rel_tol * before;
    }
    if (progress) {
      progress({.phase = MeasureProgress::Phase::Warmup,
                .attempt = attempt,
                .samples = static_cast<std::int64_t>(per_run_ms.size()),
                .repeats = w.repeats,
                .elapsed_s = elapsed_s,
                .median = Milliseconds(median_of(per_run_ms))});
    }
    if (w.settled || std::ssize(per_run_ms) >= p.max_warmup_samples || elapsed_s >= p.max_warmup_s) break;
  }
  w.samples = static_cast<int>(per_run_ms.size());
  // Fix the batch size from the recent window, not from one possibly noisy sample.
  const std::size_t recent = std::min(window, per_run_ms.size());
  w.repeats = repeats_for(median_of(std::span(per_run_ms).last(recent)), w.repeats, p);
  return w;
}

Measurement measure_once(const std::function<void()>& run, const MeasurePolicy& p,
                         const ProgressCallback& progress, int attempt) {
  Measurement m;
  const Warmup w = warm_up(run, p, progress, attempt);
  m.warmup_runs = w.runs;
  m.warmup_samples = w.samples;
  m.warmup_settled = w.settled;
  m.repeats = w.repeats;

  m.samples_ms.reserve(static_cast<std::size_t>(std::min(p.max_samples, 4096)));
  std::vector<double> sorted;
  std::int64_t next_check = p.min_samples;
  double sampled_s = 0;  // time inside samples; elapsed_s adds the CI checks between them
  const CpuTimes cpu_before = read_cpu_times();
  const Clock::time_point start = Clock::now();
  for (;;) {
    const Batch b = time_batch(run, m.repeats);
    m.samples_ms.push_back(b.per_run_ms);
    sampled_s += b.per_run_ms * 1e-3 * static_cast<double>(m.repeats);
    const std::int64_t n = std::ssize(m.samples_ms);
    const double elapsed_s = seconds_between(start, b.end);
    if (n >= next_check && sampled_s >= p.min_time_s) {
      sorted.assign(m.samples_ms.begin(), m.samples_ms.end());
      std::sort(sorted.begin(), sorted.end());
      const double median = percentile_sorted(sorted, 0.5);
      const MedianCi ci = bootstrap_median_ci(sorted, p.bootstrap_resamples);
      const double ci_rel =
          median > 0 ? std::max(median - ci.low.count(), ci.high.count() - median) / median : 0.0;
      if (progress) {
        progress({.phase = MeasureProgress::Phase::Repetitions,
                  .attempt = attempt,
                  .samples = n,
                  .repeats = m.repeats,
                  .elapsed_s = elapsed_s,
                  .median = Milliseconds(median),
                  .median_ci_rel = ci_rel});
      }
      if (ci_rel <= p.ci_rel) {
        m.stop = StopReason::CiConverged;
        break;
      }
      // Check again after 20 % more samples. A check costs ~resamples * n ns (1 ms at n = 1000), so
      // on a geometric schedule its share of the time stays near resamples * 5 ns / sample time:
      // 5 % of a 100 us sample, less once the time floor has filled the sample.
      next_check = n + std::max<std::int64_t>(1, n / 5);
    }
    if (n >= p.max_samples) {
      m.stop = StopReason::MaxSamples;
      break;
    }
    if (elapsed_s >= p.max_time_s) {
      m.stop = StopReason::MaxTime;
      break;
    }
  }
  m.contention = contention_between(cpu_before, read_cpu_times());
  m.converged = m.stop == StopReason::CiConverged;
  m.stats = summarize(m.samples_ms, p.bootstrap_resamples);
  return m;
}

}  // namespace

MeasurePolicy MeasurePolicy::quick() {
  return {.warmup_window = 2,
          .warmup_rel_tol = 0.05,
          .max_warmup_samples = 10,
          .max_warmup_s = 0.02,
          .min_sample_us = 50.0,
          .ci_rel = 0.05,
          .min_samples = 5,
          .min_time_s = 0.005,
          .max_samples = 1000,
          .max_time_s = 0.05,
          .max_remeasures = 0};
}

void check(const MeasurePolicy& p) {
  const auto fail = [](std::string_view field, auto value, std::string_view rule) {
    throw InvalidArgument(fmt::format("measure: {}={} must be {}", field, value, rule));
  };
  // Written as !(ok) so that a NaN fails every rule.
  if (!(p.warmup_window >= 1)) fail("warmup_window", p.warmup_window, ">= 1");
  if (!(p.warmup_rel_tol > 0)) fail("warmup_rel_tol", p.warmup_rel_tol, "> 0");
  if (!(p.max_warmup_samples >= 1)) {
    fail("max_warmup_samples", p.max_warmup_samples, ">= 1 (the first call is always warm-up)");
  }
  if (!(p.max_warmup_s >= 0)) fail("max_warmup_s", p.max_warmup_s, ">= 0");
  if (!(p.min_sample_us >= 0)) fail("min_sample_us", p.min_sample_us, ">= 0");
  if (!(p.max_repeats >= 1)) fail("max_repeats", p.max_repeats, ">= 1");
  if (!(p.ci_rel > 0 && p.ci_rel < 1)) fail("ci_rel", p.ci_rel, "in (0, 1)");
  if (!(p.min_samples >= 1)) fail("min_samples", p.min_samples, ">= 1");
  if (!(p.max_samples >= p.min_samples)) {
    fail("max_samples", p.max_samples, fmt::format(">= min_samples={}", p.min_samples));
  }
  if (!(p.min_time_s >= 0)) fail("min_time_s", p.min_time_s, ">= 0");
  if (!(p.max_time_s > 0 && p.max_time_s >= p.min_time_s)) {
    fail("max_time_s", p.max_time_s, fmt::format("> 0 and >= min_time_s={}", p.min_time_s));
  }
  if (!(p.bootstrap_resamples >= 100 && p.bootstrap_resamples <= 100'000)) {
    fail("bootstrap_resamples", p.bootstrap_resamples,
         "in [100, 100000] (fewer leave the 2.5 % tail to a couple of draws)");
  }
  if (!(p.max_cv > 0)) fail("max_cv", p.max_cv, "> 0");
  if (!(p.max_contention > 0 && p.max_contention <= 1)) {
    fail("max_contention", p.max_contention, "in (0, 1] (1 never flags)");
  }
  if (!(p.max_remeasures >= 0 && p.max_remeasures <= 10)) {
    fail("max_remeasures", p.max_remeasures, "in [0, 10]");
  }
}

std::string_view to_string(StopReason reason) {
  switch (reason) {
    case StopReason::CiConverged: return "ci_converged";
    case StopReason::MaxSamples: return "max_samples";
    case StopReason::MaxTime: return "max_time";
  }
  return "?";
}

Measurement measure(const std::function<void()>& run, const MeasurePolicy& policy,
                    const ProgressCallback& progress) {
  check(policy);
  const Clock::time_point start = Clock::now();
  Measurement m;
  for (int attempt = 0;; ++attempt) {
    m = measure_once(run, policy, progress, attempt);
    m.remeasures = attempt;
    const bool noisy = !(m.stats.robust_cv <= policy.max_cv);
    const bool contended = m.contention > policy.max_contention;  // NaN (unknown): false
    if (!noisy && !contended) break;
    if (attempt == policy.max_remeasures) {
      m.high_cv = noisy;
      m.contended = contended;
      break;
    }
  }
  m.elapsed_s = seconds_between(start, Clock::now());
  return m;
}

}  // namespace hwnas
