// The lookup table's calibration: from the sum of an arch's per-layer latencies (each layer timed
// alone) to its end-to-end latency.
//
// A layer-alone sum misses what a whole forward does: on this CPU swin_t's layers alone sum to
// 22.5 ms while its forward takes 26.8 ms (weights and activations stream between layers instead of
// staying in cache, every layer pays an OpenMP fork/join). So the prediction is
//
//   predicted_ms = a * layer_sum_ms + b * n_layers        (a >= 0, b >= 0)
//
// fitted by least squares on the relative residuals (m - a s - b n) / m, since what is judged is
// the relative error (MAPE) across archs whose latencies span an order of magnitude; plain least
// squares would fit the largest archs and leave the small ones tens of percent off. The squares
// are Huber's (iteratively reweighted): a pair off by more than 1.345 robust sigmas counts
// linearly, so one arch timed while the machine was busy cannot drag a and b after it.
//
// Why no per-kind term: on 30 random subnets of the default space at 224, 1 thread, quick policy
// (`hwnas lut --samples 20 --calibrate 10 --seed 5`), measured / layer sum was 1.11 .. 1.20 for
// 24 of them, across every mixer family, and 1.3 .. 1.9 for 6 that other processes on the shared
// 2-core machine slowed down (the same archs re-measured a minute later moved by 38 % on average).
// A coefficient per op (mlp, layer_norm, each mixer, ...) fitted on 10 archs did worse on the 20
// held out (29 % MAPE against 12.5 % for a, b): it fits the noise. What is left to explain is a
// scale, which a is; b takes a per-layer overhead (fork/join), which grows with threads.
#pragma once

#include <cstddef>
#include <span>
#include <string>

namespace hwnas::cli {

// One arch measured end to end whose every layer has a lookup-table entry.
struct CalibrationPair {
  double layer_sum_ms = 0;  // sum of the layers' medians, > 0
  double n_layers = 0;      // layers in the sum (repeated keys counted each time)
  double measured_ms = 0;   // the end-to-end median, > 0
};

// Below this many pairs the fit is not trusted: (a = 1, b = 0) with kUncalibratedError.
inline constexpr std::size_t kMinCalibrationPairs = 5;
inline constexpr double kUncalibratedError = 0.15;
// A floor on the claimed error: a handful of lucky pairs must not promise better than the noise
// of one measurement between minutes.
inline constexpr double kMinRelativeError = 0.02;

struct LatencyCalibration {
  double a = 1.0;
  double b = 0.0;  // ms per layer
  std::size_t pairs = 0;
  // The error a prediction may carry (0.05 = 5 %): the 90th percentile (nearest rank) of the
  // leave-one-out absolute relative errors, at least kMinRelativeError; kUncalibratedError with
  // fewer than kMinCalibrationPairs pairs.
  double relative_error = kUncalibratedError;
  bool fitted() const { return pairs >= kMinCalibrationPairs; }
  double predict(double layer_sum_ms, double n_layers) const {
    return a * layer_sum_ms + b * n_layers;
  }
};

// The non-negative robust (Huber) least-squares fit described above, without the leave-one-out
// error (pairs and relative_error are left at their defaults). Needs at least one pair.
LatencyCalibration fit_coefficients(std::span<const CalibrationPair> pairs);

// fit_coefficients with the minimum-pairs rule and the leave-one-out relative_error.
LatencyCalibration fit_calibration(std::span<const CalibrationPair> pairs);

// "a=1.0712 b=0.0213ms/layer n=20 err=4.1%" or "uncalibrated (3 of 5 pairs) a=1 b=0 err=15.0%".
std::string describe(const LatencyCalibration& calibration);

}  // namespace hwnas::cli
