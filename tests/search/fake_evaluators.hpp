// Deterministic stand-ins for the evaluators apps/ wires (measured or lookup-table latency, the
// NASWOT proxy): functions of the Arch alone, so a search on them is reproducible and its tests
// can check every rule without timing anything.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "search/evaluator.hpp"
#include "supernet/subnet.hpp"

namespace hwnas::testing {

// A number in [0, 1) from an arch hash (16 hex digits).
inline double hash_unit(const std::string& hash) {
  return static_cast<double>(std::stoull(hash.substr(0, 12), nullptr, 16)) / std::pow(16.0, 12);
}

inline std::int64_t total_depth(const Arch& arch) {
  std::int64_t depth = 0;
  for (const StageSpec& stage : arch.stages)
    depth += static_cast<std::int64_t>(stage.blocks.size());
  return depth;
}

// "Latency": GFLOPs plus a per-block overhead plus a hash-dependent jitter of up to 0.3 ms, so
// latency is not a function of flops alone.
inline double true_latency_ms(const Arch& arch, std::int64_t resolution) {
  const double gflops = arch_cost(arch, resolution).flops / 1e9;
  return 0.5 + 2.0 * gflops + 0.08 * static_cast<double>(total_depth(arch)) +
         0.3 * hash_unit(arch_hash(arch));
}

// Measures "exactly": source "measured", relative_error 0. Counts calls per arch.
class FakeMeasuredLatency : public LatencyEvaluator {
 public:
  explicit FakeMeasuredLatency(std::int64_t resolution) : resolution_(resolution) {}
  std::string_view kind() const override { return "measured"; }
  LatencyEstimate estimate(const Arch& arch) override { return measure(arch); }
  LatencyEstimate measure(const Arch& arch) override {
    ++calls[arch_hash(arch)];
    return {.ms = true_latency_ms(arch, resolution_), .source = "measured"};
  }
  double relative_error() const override { return 0; }
  std::map<std::string, int> calls;

 private:
  std::int64_t resolution_;
};

// Predicts with an error of up to +-`spread` (far beyond the 5 % it claims), so the search's
// measured checks and its final measurement of the front have something to correct.
class FakeLutLatency : public LatencyEvaluator {
 public:
  FakeLutLatency(std::int64_t resolution, double spread)
      : resolution_(resolution), spread_(spread) {}
  std::string_view kind() const override { return "lut"; }
  double predict(const Arch& arch) const {
    const std::string hash = arch_hash(arch);
    const double error = spread_ * (2 * hash_unit(hash.substr(4) + "0000") - 1);
    return true_latency_ms(arch, resolution_) * (1 + error);
  }
  LatencyEstimate estimate(const Arch& arch) override {
    ++estimates;
    const double predicted = predict(arch);
    return {.ms = predicted, .source = "lut", .predicted_ms = predicted};
  }
  LatencyEstimate measure(const Arch& arch) override {
    ++measured[arch_hash(arch)];
    return {.ms = true_latency_ms(arch, resolution_),
            .source = "measured",
            .predicted_ms = predict(arch)};
  }
  double relative_error() const override { return 0.05; }
  int estimates = 0;
  std::map<std::string, int> measured;

 private:
  std::int64_t resolution_;
  double spread_;
};

// "Quality": grows with capacity (log params, log flops) and with attention blocks, so the front
// trades it against latency.
class FakeQuality : public QualityEvaluator {
 public:
  explicit FakeQuality(std::int64_t resolution) : resolution_(resolution) {}
  std::string_view source() const override { return "fake"; }
  QualityEstimate evaluate(const Arch& arch) override {
    const ArchCost cost = arch_cost(arch, resolution_);
    double attention = 0;
    for (const StageSpec& stage : arch.stages) {
      for (const BlockSpec& block : stage.blocks) {
        for (const UnitSpec& unit : block.units) {
          for (const UnitOp& op : unit.ops) {
            if (op.mixer && op.mixer->name.find("attention") != std::string::npos) attention += 1;
          }
        }
      }
    }
    return {.value = std::log(cost.params) + 0.5 * std::log(cost.flops) + 0.05 * attention,
            .source = "fake"};
  }

 private:
  std::int64_t resolution_;
};

}  // namespace hwnas::testing
