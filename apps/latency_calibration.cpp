#include "apps/latency_calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/assert.hpp"

namespace hwnas::cli {
namespace {

// Sum of squared relative residuals of (a, b).
double loss(std::span<const CalibrationPair> pairs, double a, double b) {
  double sum = 0;
  for (const CalibrationPair& p : pairs) {
    const double r = (p.measured_ms - a * p.layer_sum_ms - b * p.n_layers) / p.measured_ms;
    sum += r * r;
  }
  return sum;
}

}  // namespace

LatencyCalibration fit_coefficients(std::span<const CalibrationPair> pairs) {
  HWNAS_ASSERT(!pairs.empty());
  // Dividing each pair by its measurement turns the relative residual into an ordinary one with
  // target 1: minimise sum (1 - a x - b y)^2 with x = s / m, y = n / m.
  double xx = 0, xy = 0, yy = 0, x1 = 0, y1 = 0;
  for (const CalibrationPair& p : pairs) {
    const double x = p.layer_sum_ms / p.measured_ms, y = p.n_layers / p.measured_ms;
    xx += x * x;
    xy += x * y;
    yy += y * y;
    x1 += x;
    y1 += y;
  }
  // With two unknowns the non-negative solution is the unconstrained one when it is feasible, and
  // otherwise the better of the two one-variable fits (the KKT cases of a 2-variable NNLS).
  const double det = xx * yy - xy * xy;
  if (det > 1e-12 * xx * yy) {
    const double a = (x1 * yy - y1 * xy) / det, b = (y1 * xx - x1 * xy) / det;
    if (a >= 0 && b >= 0) return {.a = a, .b = b};
  }
  const LatencyCalibration only_a{.a = xx > 0 ? x1 / xx : 1.0, .b = 0};
  const LatencyCalibration only_b{.a = 0, .b = yy > 0 ? y1 / yy : 0.0};
  return loss(pairs, only_a.a, only_a.b) <= loss(pairs, only_b.a, only_b.b) ? only_a : only_b;
}

LatencyCalibration fit_calibration(std::span<const CalibrationPair> pairs) {
  if (pairs.size() < kMinCalibrationPairs) return {.pairs = pairs.size()};
  LatencyCalibration fit = fit_coefficients(pairs);
  fit.pairs = pairs.size();
  std::vector<double> errors;
  std::vector<CalibrationPair> others(pairs.begin(), pairs.end() - 1);
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    // others = every pair but i: swap pair i out of the working copy in turn.
    if (i + 1 < pairs.size()) others[i] = pairs.back();
    if (i > 0) others[i - 1] = pairs[i - 1];
    const LatencyCalibration loo = fit_coefficients(others);
    const CalibrationPair& p = pairs[i];
    errors.push_back(std::abs(loo.predict(p.layer_sum_ms, p.n_layers) - p.measured_ms) /
                     p.measured_ms);
  }
  std::sort(errors.begin(), errors.end());
  const auto rank = static_cast<std::size_t>(std::ceil(0.9 * static_cast<double>(errors.size())));
  fit.relative_error = std::max(kMinRelativeError, errors[rank - 1]);
  return fit;
}

std::string describe(const LatencyCalibration& c) {
  if (!c.fitted()) {
    return fmt::format("uncalibrated ({} of {} pairs) a={:.4g} b={:.4g}ms/layer err={:.1f}%",
                       c.pairs, kMinCalibrationPairs, c.a, c.b, 100 * c.relative_error);
  }
  return fmt::format("a={:.4f} b={:.4f}ms/layer n={} err={:.1f}%", c.a, c.b, c.pairs,
                     100 * c.relative_error);
}

}  // namespace hwnas::cli
