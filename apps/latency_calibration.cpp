#include "apps/latency_calibration.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/assert.hpp"

namespace hwnas::cli {
namespace {

// Huber's tuning constant (95 % efficiency under normal residuals), the IRLS iteration cap, and a
// floor on the robust sigma: 0.5 %, below the noise of one measurement, so near-exact pairs do not
// turn every small residual into an outlier.
constexpr double kHuberK = 1.345;
constexpr int kIrlsIterations = 20;
constexpr double kMinSigma = 0.005;

// Weighted sum of squared relative residuals of (a, b).
double loss(std::span<const CalibrationPair> pairs, std::span<const double> weights, double a,
            double b) {
  double sum = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const CalibrationPair& p = pairs[i];
    const double r = (p.measured_ms - a * p.layer_sum_ms - b * p.n_layers) / p.measured_ms;
    sum += weights[i] * r * r;
  }
  return sum;
}

// The weighted non-negative fit of (a, b). Dividing each pair by its measurement turns the
// relative residual into an ordinary one with target 1: minimise sum w (1 - a x - b y)^2 with
// x = s / m, y = n / m.
LatencyCalibration fit_weighted(std::span<const CalibrationPair> pairs,
                                std::span<const double> weights) {
  double xx = 0, xy = 0, yy = 0, x1 = 0, y1 = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    const CalibrationPair& p = pairs[i];
    const double w = weights[i];
    const double x = p.layer_sum_ms / p.measured_ms, y = p.n_layers / p.measured_ms;
    xx += w * x * x;
    xy += w * x * y;
    yy += w * y * y;
    x1 += w * x;
    y1 += w * y;
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
  return loss(pairs, weights, only_a.a, only_a.b) <= loss(pairs, weights, only_b.a, only_b.b)
             ? only_a
             : only_b;
}

}  // namespace

LatencyCalibration fit_coefficients(std::span<const CalibrationPair> pairs) {
  HWNAS_ASSERT(!pairs.empty());
  std::vector<double> weights(pairs.size(), 1.0);
  std::vector<double> residuals(pairs.size());
  LatencyCalibration fit = fit_weighted(pairs, weights);
  // Huber IRLS: a pair whose relative residual is beyond kHuberK robust sigmas weighs
  // kHuberK sigma / |r|, so one arch timed while the machine was busy moves the fit by its share
  // of the pairs, not by its square.
  for (int iteration = 0; iteration < kIrlsIterations; ++iteration) {
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      const CalibrationPair& p = pairs[i];
      residuals[i] =
          std::abs(p.measured_ms - fit.predict(p.layer_sum_ms, p.n_layers)) / p.measured_ms;
    }
    std::vector<double> sorted = residuals;
    std::nth_element(sorted.begin(), sorted.begin() + std::ssize(sorted) / 2, sorted.end());
    const double sigma = std::max(kMinSigma, 1.4826 * sorted[sorted.size() / 2]);
    for (std::size_t i = 0; i < pairs.size(); ++i) {
      weights[i] = residuals[i] <= kHuberK * sigma ? 1.0 : kHuberK * sigma / residuals[i];
    }
    const LatencyCalibration next = fit_weighted(pairs, weights);
    const bool settled = std::abs(next.a - fit.a) <= 1e-9 * std::max(1.0, fit.a) &&
                         std::abs(next.b - fit.b) <= 1e-9 * std::max(1e-3, fit.b);
    fit = next;
    if (settled) break;
  }
  return fit;
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
