// The timing protocol: one policy, used by every command that times anything (sweeps,
// `hwnas bench`, the search's measured-latency evaluator, the drift check and the roofline).
//
//   1. Warm-up. Call the workload until the rolling median settles: the median of the last
//      `warmup_window` samples is within `warmup_rel_tol` of the median of the window before it.
//      Bounded by max_warmup_samples and max_warmup_s; the first call (page faults, primitive
//      cache misses, lazy initialisation) is always part of it.
//   2. Batching. A workload shorter than min_sample_us is called `repeats` times per sample, so
//      that steady_clock's resolution and call overhead stay below ~0.1 % of a sample; a sample
//      is the batch time / repeats. repeats is re-estimated during warm-up and fixed before the
//      first timed sample.
//   3. Repetitions. Take samples until the bootstrap 95 % CI of the median lies within +/- ci_rel
//      of the median, but never before min_samples samples and min_time_s seconds inside samples
//      (floors), and never past max_samples samples or max_time_s seconds of wall time, CI checks
//      included (caps, which win over the floors). The CI is re-checked after every 20 % growth
//      of the sample, so its cost stays a small fraction of the measurement.
//   4. Stability. If the spread of the samples exceeds max_cv, everything from step 1 is
//      repeated, at most max_remeasures times; if it is still above, the measurement is flagged
//      high_cv. The spread is SampleStats::robust_cv ((p90 - p10) / (2.5631 * median)), not
//      stddev / mean: a single scheduler tick among a thousand short samples pushes stddev / mean
//      far past any useful bound (bench/stats.hpp), which would re-measure and flag nearly every
//      fast op on a shared machine, while a bimodal or drifting distribution - what re-measuring
//      is for - raises both. The classic cv is still reported in stats.cv.
//      The same holds when another process had our CPUs for more than max_contention of the
//      samples' time (bench/contention.hpp): such samples agree with each other and are all
//      wrong, which no spread rule sees. Still contended after the re-measures: flagged contended.
//
// Worst case, measure() takes (max_warmup_s + max_time_s) x (1 + max_remeasures) plus a few
// samples: 12 s under the defaults, on a workload too noisy to converge.
//
// Every raw sample is kept, so the store can recompute any statistic later. Time is wall time
// (std::chrono::steady_clock) on the calling thread: the workload's OpenMP threads are included,
// which CPU time would miss (Google Benchmark's UseRealTime).
#pragma once

#include <cstdint>
#include <functional>
#include <string_view>
#include <vector>

#include "bench/contention.hpp"
#include "bench/stats.hpp"

namespace hwnas {

struct MeasurePolicy {
  // Warm-up (step 1).
  int warmup_window = 5;           // samples per rolling-median window
  double warmup_rel_tol = 0.02;    // consecutive window medians within 2 % = settled
  int max_warmup_samples = 100;
  double max_warmup_s = 1.0;
  // Batching (step 2): at 100 us a ~20 ns clock read is 0.02 % of a sample.
  double min_sample_us = 100.0;
  std::int64_t max_repeats = 1'000'000;
  // Repetitions (step 3).
  double ci_rel = 0.01;            // stop when the median's 95 % CI is within +/- 1 %
  int min_samples = 20;
  double min_time_s = 0.3;         // summed sample time
  int max_samples = 10'000;
  double max_time_s = 5.0;         // wall time of the repetitions (warm-up has its own cap)
  int bootstrap_resamples = kDefaultBootstrapResamples;
  // Stability (step 4).
  double max_cv = 0.10;            // bound on stats.robust_cv, see step 4
  int max_remeasures = 1;
  // Contention (step 4): above this share of the samples' time another process had our CPUs.
  double max_contention = kDefaultMaxContention;

  // For tests and smoke runs: a few samples in ~50 ms, a loose 5 % CI, no re-measuring.
  static MeasurePolicy quick();
  friend bool operator==(const MeasurePolicy&, const MeasurePolicy&) = default;
};

// Throws InvalidArgument naming the field, its value and the rule, e.g.
// "measure: min_samples=50 must be <= max_samples=20".
void check(const MeasurePolicy& policy);

enum class StopReason {
  CiConverged,  // the CI rule was met after the floors
  MaxSamples,   // capped by max_samples before the CI rule was met
  MaxTime,      // capped by max_time_s before the CI rule was met
};
std::string_view to_string(StopReason reason);

struct Measurement {
  SampleStats stats;                // of samples_ms
  std::vector<double> samples_ms;   // one per sample, in order: batch time / repeats
  std::int64_t repeats = 1;         // workload calls per sample
  std::int64_t warmup_runs = 0;     // workload calls before the first timed sample (last attempt)
  int warmup_samples = 0;
  bool warmup_settled = false;      // false: warm-up ended on max_warmup_samples / max_warmup_s
  bool converged = false;           // stop == CiConverged
  bool high_cv = false;             // robust_cv > max_cv even after max_remeasures re-measurements
  int remeasures = 0;               // how many times step 1-3 were repeated (high CV, contention)
  // The share of the samples' time this process's threads waited for a CPU another process had
  // (bench/contention.hpp); NaN when the kernel does not say.
  double contention = 0;
  bool contended = false;  // contention > max_contention even after max_remeasures
  StopReason stop = StopReason::MaxTime;
  double elapsed_s = 0;             // wall time of the whole measure() call, warm-up included
};

// Reported after each warm-up sample and after each CI check of the repetitions.
struct MeasureProgress {
  enum class Phase { Warmup, Repetitions };
  Phase phase = Phase::Warmup;
  int attempt = 0;                  // 0, then 1 .. max_remeasures
  std::int64_t samples = 0;
  std::int64_t repeats = 1;
  double elapsed_s = 0;             // since the start of this attempt
  Milliseconds median{0};           // of this phase's samples so far
  double median_ci_rel = 0;         // Repetitions only: the CI half-width the stopping rule uses
};
using ProgressCallback = std::function<void(const MeasureProgress&)>;

// Times `run` under `policy` (checked first). Exceptions thrown by `run` propagate.
Measurement measure(const std::function<void()>& run, const MeasurePolicy& policy,
                    const ProgressCallback& progress = {});

}  // namespace hwnas
