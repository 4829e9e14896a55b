// Frequency drift: time a fixed reference kernel before and after a long run (a sweep, a search) and
// mark the run as drifted when the two differ by more than a threshold. A CPU that heats up and
// lowers its clock, a neighbour that starts a job on a shared host, or a governor that changes its
// mind all make later measurements incomparable with earlier ones; the reference kernel makes that
// visible instead of silently folding it into the results.
//
// The kernel is ~5 ms of single-thread work on the calling thread: independent multiply-add chains
// that live in registers (the core clock) and a 256 KiB copy that lives in L2 (the cache clock). It is
// deliberately fixed - never calibrated at run time - so the same binary does the same work each time.
#pragma once

#include "bench/latency.hpp"
#include "bench/measure.hpp"

namespace hwnas {

// A 10 % change is well beyond the run-to-run noise of a 5 ms kernel's median (< 1 % under the default
// policy) and well below the 20-40 % a thermally throttled laptop loses.
inline constexpr double kDefaultDriftThreshold = 0.10;

// The median time of the reference kernel under `policy`.
Milliseconds time_drift_reference(const MeasurePolicy& policy);

struct DriftCheck {
  Milliseconds before{0};
  Milliseconds after{0};
  double relative_change = 0;  // (after - before) / before: > 0 means the machine got slower
  double threshold = kDefaultDriftThreshold;
  bool drifted = false;        // |relative_change| > threshold
};

// Throws InvalidArgument unless before > 0, after > 0 and threshold > 0.
DriftCheck compare_drift(Milliseconds before, Milliseconds after, double threshold = kDefaultDriftThreshold);

// Times the reference at start() and again at finish(); the long run goes in between.
class DriftMonitor {
 public:
  static DriftMonitor start(const MeasurePolicy& policy);
  DriftCheck finish(double threshold = kDefaultDriftThreshold) const;
  Milliseconds before() const { return before_; }

 private:
  DriftMonitor(const MeasurePolicy& policy, Milliseconds before) : policy_(policy), before_(before) {}
  MeasurePolicy policy_;
  Milliseconds before_;
};

}  // namespace hwnas
