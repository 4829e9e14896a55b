// How far a latency predictor (the lookup table) is from measurement, over pairs of the same
// architectures: the numbers the search records per generation and the LUT benchmark reports.
//
//   PredictorError e = predictor_error(predicted_ms, measured_ms);
//   e.mape_pct;  e.kendall_tau;
#pragma once

#include <cstddef>
#include <limits>
#include <span>

namespace hwnas {

struct PredictorError {
  std::size_t n = 0;
  double mape_pct = 0;       // mean of |predicted - measured| / measured, in percent
  double worst_ape_pct = 0;  // the largest of those, in percent
  double within_5pct = 0;    // share (0..1) of pairs with absolute percentage error <= 5 %
  double within_10pct = 0;   // share (0..1) with error <= 10 %
  // Kendall's tau-b between the two rankings (ties in either handled); NaN when it is undefined:
  // fewer than two pairs, or every value of one side equal.
  double kendall_tau = std::numeric_limits<double>::quiet_NaN();
};

// Throws InvalidArgument when the spans differ in length, are empty, or a measured value is not
// a finite number > 0 or a predicted one not finite (naming the index and value).
PredictorError predictor_error(std::span<const double> predicted, std::span<const double> measured);

}  // namespace hwnas
