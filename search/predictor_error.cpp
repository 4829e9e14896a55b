#include "search/predictor_error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "kernels/error.hpp"

namespace hwnas {
namespace {

int sign(double x) { return (x > 0) - (x < 0); }

}  // namespace

PredictorError predictor_error(std::span<const double> predicted,
                               std::span<const double> measured) {
  if (predicted.size() != measured.size()) {
    throw InvalidArgument(fmt::format("predictor_error: {} predicted but {} measured values",
                                      predicted.size(), measured.size()));
  }
  if (predicted.empty()) throw InvalidArgument("predictor_error: no pairs");
  for (std::size_t i = 0; i < measured.size(); ++i) {
    if (!std::isfinite(measured[i]) || measured[i] <= 0) {
      throw InvalidArgument(
          fmt::format("predictor_error: measured[{}]={} must be finite and > 0", i, measured[i]));
    }
    if (!std::isfinite(predicted[i])) {
      throw InvalidArgument(
          fmt::format("predictor_error: predicted[{}]={} must be finite", i, predicted[i]));
    }
  }
  PredictorError error;
  error.n = predicted.size();
  // The 5 % and 10 % bands get a relative slack of a few ulps: a prediction of 105 for 100 is
  // "within 5 %", though 5 / 100 rounds to slightly more than 0.05.
  constexpr double kSlack = 1e-12;
  double sum = 0;
  std::size_t within_5 = 0, within_10 = 0;
  for (std::size_t i = 0; i < error.n; ++i) {
    const double ape = std::abs(predicted[i] - measured[i]) / measured[i];
    sum += ape;
    error.worst_ape_pct = std::max(error.worst_ape_pct, 100 * ape);
    within_5 += ape <= 0.05 + kSlack ? 1 : 0;
    within_10 += ape <= 0.10 + kSlack ? 1 : 0;
  }
  const auto n = static_cast<double>(error.n);
  error.mape_pct = 100 * sum / n;
  error.within_5pct = static_cast<double>(within_5) / n;
  error.within_10pct = static_cast<double>(within_10) / n;

  // tau-b = (concordant - discordant) / sqrt((pairs - ties in predicted) * (pairs - ties in
  // measured)); a pair tied on one side counts as neither concordant nor discordant. O(n^2) is
  // fine for the tens to hundreds of pairs a search or benchmark checks.
  double score = 0, untied_predicted = 0, untied_measured = 0;
  for (std::size_t i = 0; i < error.n; ++i) {
    for (std::size_t j = i + 1; j < error.n; ++j) {
      const int a = sign(predicted[i] - predicted[j]);
      const int b = sign(measured[i] - measured[j]);
      score += a * b;
      untied_predicted += a != 0 ? 1 : 0;
      untied_measured += b != 0 ? 1 : 0;
    }
  }
  if (untied_predicted > 0 && untied_measured > 0) {
    error.kendall_tau = score / std::sqrt(untied_predicted * untied_measured);
  }
  return error;
}

}  // namespace hwnas
