// The search's view of the world (DESIGN.md "search/"): it asks evaluators for an architecture's
// latency and quality and never times, stores or reads anything itself. apps/ gives it the real
// ones (latency measured end to end or predicted from the lookup table, both cached in the store;
// the NASWOT proxy); tests give it fakes.
//
//   LatencyEstimate l = latency.estimate(arch);   // ms at the run's batch x resolution x threads
//   QualityEstimate q = quality.evaluate(arch);   // higher is better
//
// An evaluator is bound at construction to one device, batch, resolution, thread count and dtype:
// every call of one search asks the same question about a different Arch.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <string_view>

#include "supernet/arch.hpp"

namespace hwnas {

struct LatencyEstimate {
  double ms = 0;       // what the search ranks with
  std::string source;  // "measured" or "lut"
  // The lookup table's prediction, also when source is "measured" (a measured check of a predicted
  // candidate keeps both, which is the predictor's live error); NaN when there is none.
  double predicted_ms = std::numeric_limits<double>::quiet_NaN();
  bool cache_hit = false;  // answered from the store, nothing was timed
};

class LatencyEvaluator {
 public:
  virtual ~LatencyEvaluator() = default;
  virtual std::string_view kind() const = 0;  // "measured" or "lut"
  // The latency the search ranks with: measured, or predicted.
  virtual LatencyEstimate estimate(const Arch& arch) = 0;
  // Measured end to end, whatever the kind (the check of a prediction); predicted_ms filled when the
  // evaluator predicts.
  virtual LatencyEstimate measure(const Arch& arch) = 0;
  // The relative error a prediction may carry (0.05 = 5 %): a candidate predicted within it of the
  // latency budget is measured before the budget decides. 0 for a measuring evaluator.
  virtual double relative_error() const = 0;
};

struct QualityEstimate {
  double value = 0;    // higher is better
  std::string source;  // "naswot" (a zero-cost proxy), later "supernet_top1"
  bool cache_hit = false;
};

class QualityEvaluator {
 public:
  virtual ~QualityEvaluator() = default;
  virtual std::string_view source() const = 0;
  virtual QualityEstimate evaluate(const Arch& arch) = 0;
};

// What the search knows of one candidate. params and flops come from the cost model (arch_cost) at
// the run's resolution and batch 1.
struct Objectives {
  double latency_ms = 0;
  std::string latency_source;
  double predicted_ms = std::numeric_limits<double>::quiet_NaN();
  double quality = 0;
  std::string quality_source;
  double params = 0;
  double flops = 0;
};

}  // namespace hwnas
