// The search's latency evaluators (search/evaluator.hpp) on this device, backed by the store:
//
//   MeasuredLatency measured(engine, store, {.device_id = d, .run_id = r, .batch = 1, ...});
//   measured.estimate(arch);   // end to end; a repeat is a cache hit, never re-timed
//   LutLatency lut(engine, store, options);
//   lut.estimate(arch);        // calibrated sum of per-layer latencies; missing layers timed once
//   lut.measure(arch);         // end to end (the same cache as MeasuredLatency), prediction kept
//
// Both are bound to one engine (its thread count), store, device, run, batch, resolution, policy
// and seed; everything they time is stored in that run, which must be running. Milliseconds.
//
// The measured cache key is the issue's: (arch hash, device, batch, resolution, threads, dtype f32)
// - the row `hwnas bench ARCH --batch B --res R --threads N` writes is a hit, and the other way
// round. The lookup table's entries are Op measurements keyed by the layer's canonical key (which
// holds the batch and the map size), device, threads and batch: rows of `hwnas sweep` and of
// `hwnas bench --layers` with the same key are hits. The repro of a row is `hwnas bench
// <hash>.json ...`: the Arch JSON is the store's archs row of that hash.
//
// Throws what prepare_arch throws (InvalidArgument for an arch that cannot run at the resolution)
// and what the store throws. A Store is one connection: use an evaluator from one thread.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "apps/latency_calibration.hpp"
#include "bench/measure.hpp"
#include "kernels/engine.hpp"
#include "search/evaluator.hpp"
#include "store/store.hpp"
#include "supernet/subnet.hpp"

namespace hwnas::cli {

struct LatencyOptions {
  std::int64_t device_id = 0;  // the store's device of the engine
  std::int64_t run_id = 0;     // a running run; every new measurement is stored in it
  std::int64_t batch = 1;
  std::int64_t resolution = 224;
  MeasurePolicy policy;
  std::uint64_t seed = 1;  // of the random weights and images of what is timed
};

class MeasuredLatency final : public LatencyEvaluator {
 public:
  // Keeps references to engine and store, which must outlive it.
  MeasuredLatency(const Engine& engine, Store& store, const LatencyOptions& options);

  std::string_view kind() const override { return "measured"; }
  LatencyEstimate estimate(const Arch& arch) override { return measure(arch); }
  // The newest stored measurement of the key (cache_hit), or prepare_arch + time_arch + a stored
  // arch row and Arch measurement in the run. source "measured", predicted_ms NaN.
  LatencyEstimate measure(const Arch& arch) override;
  double relative_error() const override { return 0; }

  std::int64_t timed() const { return timed_; }  // archs timed by this evaluator (cache misses)
  // Whether the last measure() answered with a measurement flagged contended
  // (bench/contention.hpp).
  bool last_contended() const { return last_contended_; }

 private:
  const Engine* engine_;
  Store* store_;
  LatencyOptions options_;
  std::int64_t timed_ = 0;
  bool last_contended_ = false;
};

// Whether a new calibration pair refits the calibration (latency_calibration.hpp).
enum class CalibrationUpdates { Refit, Frozen };

class LutLatency final : public LatencyEvaluator {
 public:
  // Keeps references to engine and store, which must outlive it. Starts uncalibrated.
  LutLatency(const Engine& engine, Store& store, const LatencyOptions& options);

  std::string_view kind() const override { return "lut"; }
  // The calibrated layer sum; cache_hit when every layer had an entry (nothing was timed).
  LatencyEstimate estimate(const Arch& arch) override;
  // MeasuredLatency::measure with predicted_ms = the calibrated layer sum as it stood before this
  // measurement; an arch not yet paired then becomes a calibration pair and the fit is redone
  // (unless frozen). A measurement flagged contended is not paired: it would teach the fit the
  // neighbour's load.
  LatencyEstimate measure(const Arch& arch) override;
  double relative_error() const override { return calibration_.relative_error; }

  struct LayerSum {
    double sum_ms = 0;         // uncalibrated: the layers' medians summed
    double n_layers = 0;       // layers summed, repeated keys each time
    std::int64_t missing = 0;  // entries that were timed now
    // The sum and the layer count per op (the key's name before ':': "mlp", "window_attention",
    // "layer_norm", ...), for the predictor's error analysis.
    std::map<std::string, std::pair<double, int>, std::less<>> by_op;
  };
  // The arch's layers (arch_cost at the bound resolution and batch), each looked up, the missing
  // ones timed alone in one built subnet (after one forward) and stored as Op measurements (impl
  // "layer"), each distinct key once.
  LayerSum layer_sum(const Arch& arch);

  // Adds a calibration pair for every arch of this device, threads, batch and resolution that the
  // store holds an end-to-end measurement of (the newest) and every layer entry for, timing
  // nothing, then refits (unless frozen). Returns the pairs added. A search calls it once at the
  // start, so a resumed or repeated search starts calibrated; it reads every measurement of the
  // device's runs (cost grows with the store).
  std::size_t add_stored_pairs();

  const LatencyCalibration& calibration() const { return calibration_; }
  // The fit for logs: "a=1.1712 b=0.0021ms/layer n=20 err=4.1%" (describe()).
  std::string calibration_summary() const { return describe(calibration_); }
  const std::vector<CalibrationPair>& pairs() const { return pairs_; }
  // Refit after every new pair (a search), or keep the calibration as it stands (`hwnas lut`
  // judges a calibration fitted on its first archs on archs it has not seen).
  void set_updates(CalibrationUpdates updates) { updates_ = updates; }

  std::int64_t layers_timed() const { return layers_timed_; }  // entries timed by this evaluator
  MeasuredLatency& measured() { return measured_; }

 private:
  // The entries of `layers` not found in entries_ or the store (found ones are added to entries_).
  std::set<std::string, std::less<>> find_entries(const std::vector<LayerInfo>& layers);
  void add_pair(const std::string& hash, const CalibrationPair& pair);

  const Engine* engine_;
  Store* store_;
  LatencyOptions options_;
  MeasuredLatency measured_;
  std::map<std::string, double, std::less<>> entries_;  // layer key -> median ms, seen this run
  std::vector<CalibrationPair> pairs_;
  std::set<std::string, std::less<>> paired_;  // arch hashes in pairs_: a re-measure adds none
  LatencyCalibration calibration_;
  CalibrationUpdates updates_ = CalibrationUpdates::Refit;
  std::int64_t layers_timed_ = 0;
};

}  // namespace hwnas::cli
