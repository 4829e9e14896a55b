// Everything a report shows, read from a Store into plain structs, so the renderers (html,
// markdown, csv) are pure functions of ReportData and tests can build one by hand.
//
//   Store store = Store::open(db, {.mode = sqlite::OpenMode::ReadOnly});
//   ReportData data = load_report_data(store, {.run_ids = {7}});
//
// What is read: the chosen runs (no ids = the newest search run; several search runs = a
// comparison); the device of the first of them, and from that device's other runs: every sweep
// point (runs of kind "sweep"), the newest roofline (kind "roofline"), catalog models measured by
// `hwnas bench` (kind "bench") with their per-layer times, and - unless a lut run is chosen - the
// predictor points of the newest finished `hwnas lut` run (kind "lut") that stored a held-out one.
// Times are milliseconds, FLOPs and bytes per execution.
//
// Throws InvalidArgument for a run id that is not in the store ("no run 7 in x.db; hwnas runs lists
// them"), IoError for what the store throws.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "store/store.hpp"

namespace hwnas::reports {

// One stage of an architecture as a table shows it.
struct StageSummary {
  std::int64_t width = 0;
  std::int64_t depth = 0;
  std::vector<std::string> mixers;  // one per block, in order
  std::vector<double> mlp_ratios;   // one per block (NaN = no MLP)
};

struct ArchInfo {
  std::string hash;
  std::string name;  // the name it was first stored under
  std::string
      canonical_json;  // the arch itself (the report embeds it, so the front is rebuildable)
  std::vector<StageSummary> stages;  // empty when the JSON could not be read
};
// "64x2 pool_mixer,dwconv | 128x2 ...": width x depth and the mixers of each stage.
std::string summary(const ArchInfo& arch);
// Reads the stages of a canonical arch JSON (supernet/arch.cpp's to_json); unknown shapes give
// none.
std::vector<StageSummary> stage_summaries(const std::string& canonical_json);

struct SearchGeneration {
  std::int64_t generation = 0;
  double hypervolume = 0;
  std::int64_t evaluations = 0, cache_hits = 0, measured_checks = 0;
  std::int64_t front_size = 0;  // candidates of rank 0 in this generation
  std::int64_t pred_n = 0;
  double pred_mape = kNoValue;  // 0.05 = 5 %
};

struct SearchRun {
  RunRow run;
  // The config's settings as text, in a fixed order ("objectives" -> "quality,latency"); the space
  // JSON is left out (it is long), its path kept.
  std::vector<std::pair<std::string, std::string>> settings;
  std::vector<SearchGeneration> generations;
  std::vector<CandidateRow> candidates;  // every candidate of every generation
  std::vector<FrontRow> front;
};

// One sweep point: an op measurement of a sweep run, with the map shape parsed from its key
// ("window_attention:n=1,h=56,w=56,c=96,heads=3,..."); 0 where the key has no such field.
struct SweepPoint {
  std::int64_t run_id = 0;
  std::string key;
  std::string op;      // the key's name before ':'
  std::string config;  // the key without n, h, w: the series a resolution ladder draws
  std::int64_t n = 0, h = 0, w = 0, c = 0;
  double median_ms = 0, p10_ms = 0, p90_ms = 0;
  double flops = 0, bytes = 0;
  double gflops() const { return median_ms > 0 ? flops / (median_ms * 1e6) : kNoValue; }
  double intensity() const { return bytes > 0 ? flops / bytes : kNoValue; }  // FLOP per byte
};

struct RooflineInfo {
  std::int64_t run_id = 0;
  std::int64_t threads = 0;
  std::string peak_isa;
  double peak_gflops = 0, matmul_gflops = 0;
  double l2_gbps = 0, l3_gbps = 0, dram_gbps = 0;
  // The attainable GFLOP/s at `intensity` FLOP/byte under the DRAM roof: min(peak, bw * intensity).
  double attainable_gflops(double intensity) const;
};

struct LayerTime {
  std::string name, kind, key;
  double median_ms = 0, share = 0;
};

// One end-to-end measurement of an architecture, with its layers when `hwnas bench --layers` or a
// search stored them.
struct ArchBench {
  std::int64_t run_id = 0;
  std::int64_t measurement_id = 0;
  std::string run_kind;  // "bench", "search", ...
  std::string name;      // the measurement's arch name ("poolformer_s12")
  std::string hash;
  std::int64_t batch = 1, resolution = 0, threads = 0;
  double median_ms = 0, p10_ms = 0, p90_ms = 0;
  double params = kNoValue, flops = 0;
  std::vector<LayerTime> layers;  // by execution order; empty = not broken down
};

// Where a predictor pair comes from: a search's candidate (or front member) that was predicted and
// also measured, or a held-out subnet of `hwnas lut` (the predictor's own benchmark).
enum class PredictorSource { SearchCheck, LutHeldOut };

// A latency the lookup table predicted beside the end-to-end measurement of the same arch.
struct PredictorPair {
  std::int64_t run_id = 0;
  std::string hash;
  double predicted_ms = 0, measured_ms = 0;
  PredictorSource source = PredictorSource::SearchCheck;
};

struct ReportData {
  std::string db_path;
  std::vector<RunRow> runs;               // the chosen runs, as asked for
  std::optional<DeviceRow> device;        // of the first chosen run
  std::vector<SearchRun> searches;        // the chosen runs of kind "search"
  std::map<std::string, ArchInfo> archs;  // every arch a search candidate or a bench names
  std::vector<SweepPoint> sweep;          // the device's sweep points, newest per key, by key
  std::optional<RooflineInfo> roofline;
  std::vector<ArchBench> catalog;  // kind "bench" runs of the device, newest per (name, batch, res)
  std::vector<ArchBench> front_benches;  // end-to-end measurements of front members, on the device
  // From the chosen searches' candidates and fronts, then the held-out subnets of the chosen `lut`
  // runs, or (when none is chosen) of the device's newest finished lut run that stored any.
  // Search pairs are one per arch and run; lut pairs one per held-out subnet and run.
  std::vector<PredictorPair> predictor;
  std::vector<std::int64_t> predictor_lut_runs;  // the lut runs whose points were read
  // Held-out lut points of those runs left out because their measurement was flagged contended.
  std::int64_t predictor_contended = 0;
  // `hwnas reproduce`: a chosen run of kind "reproduce", else the device's newest finished one.
  std::optional<RunRow> claims_run;
  std::vector<ClaimResultRow> claims;    // of claims_run, in the order it stored them
  std::string generated_at;              // ISO 8601 UTC; set by the caller (reports stay pure)
  std::string generator;                 // "hwnas <code version>"
};

struct ReportRequest {
  std::vector<std::int64_t> run_ids;  // empty = the newest search run (none: a report without one)
};

ReportData load_report_data(const Store& store, const ReportRequest& request);

// The parsed fields of an op key "op:a=1,b=2": name and (field, value) pairs, in key order.
std::pair<std::string, std::vector<std::pair<std::string, std::string>>> parse_op_key(
    const std::string& key);

// Mean absolute relative error of the pairs (0.05 = 5 %); NaN for none.
double mape(const std::vector<PredictorPair>& pairs);

}  // namespace hwnas::reports
