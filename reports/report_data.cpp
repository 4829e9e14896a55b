#include "reports/report_data.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <tuple>

#include "kernels/error.hpp"

namespace hwnas::reports {
namespace {

using Json = nlohmann::json;

Json parse_or_null(const std::string& text) {
  Json j = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? Json() : j;
}

// A config value as text: strings bare, anything else as JSON.
std::string text_of(const Json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

double number_or(const Json& j, const char* key, double fallback) {
  return j.is_object() && j.contains(key) && j[key].is_number() ? j[key].get<double>() : fallback;
}

// Not json::value: GCC's -Wnull-dereference sees through its string path at -O3.
std::string string_or(const Json& j, const char* key) {
  if (!j.is_object()) return {};
  const auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get_ref<const std::string&>() : std::string();
}

std::int64_t integer_or(const Json& j, const char* key, std::int64_t fallback) {
  return j.is_object() && j.contains(key) && j[key].is_number_integer() ? j[key].get<std::int64_t>()
                                                                        : fallback;
}

std::vector<std::pair<std::string, std::string>> search_settings(const Json& config) {
  // The settings a reader asks about first, then any others the config holds (a newer hwnas).
  static const std::vector<std::string> kOrder = {
      "space",       "objectives", "latency",     "latency_budget", "params_budget", "population",
      "generations", "mutation_p", "crossover_p", "early_stop",     "batch",         "res",
      "threads",     "seed",       "proxy_batch", "policy"};
  std::vector<std::pair<std::string, std::string>> out;
  if (!config.is_object()) return out;
  for (const std::string& key : kOrder) {
    if (config.contains(key)) out.emplace_back(key, text_of(config[key]));
  }
  for (const auto& [key, value] : config.items()) {
    if (key == "space_json" || std::find(kOrder.begin(), kOrder.end(), key) != kOrder.end()) {
      continue;
    }
    out.emplace_back(key, text_of(value));
  }
  return out;
}

SearchRun load_search(const Store& store, const RunRow& run) {
  SearchRun s{.run = run, .settings = search_settings(parse_or_null(run.config_json))};
  s.candidates = store.candidates(run.id);
  s.front = store.front(run.id);
  for (const GenerationRow& g : store.generations(run.id)) {
    SearchGeneration out{.generation = g.generation,
                         .hypervolume = g.hypervolume,
                         .evaluations = g.evaluations,
                         .cache_hits = g.cache_hits,
                         .measured_checks = g.measured_checks,
                         .pred_n = g.pred_n,
                         .pred_mape = g.pred_mape};
    for (const CandidateRow& c : s.candidates) {
      if (c.generation == g.generation && c.rank == 0) ++out.front_size;
    }
    s.generations.push_back(out);
  }
  return s;
}

std::optional<RooflineInfo> roofline_of(const RunRow& run) {
  const Json j = parse_or_null(run.config_json);
  if (!j.is_object() || !j.contains("peak_gflops")) return std::nullopt;
  return RooflineInfo{.run_id = run.id,
                      .threads = integer_or(j, "threads", 0),
                      .peak_isa = string_or(j, "peak_isa"),
                      .peak_gflops = number_or(j, "peak_gflops", 0),
                      .matmul_gflops = number_or(j, "matmul_gflops", 0),
                      .l2_gbps = number_or(j, "l2_gbps", 0),
                      .l3_gbps = number_or(j, "l3_gbps", 0),
                      .dram_gbps = number_or(j, "dram_gbps", 0)};
}

ArchBench arch_bench(const Store& store, const RunRow& run, const MeasurementRow& m) {
  const Json params = parse_or_null(m.params_json);
  ArchBench b{.run_id = run.id,
              .measurement_id = m.id,
              .run_kind = run.kind,
              .name = string_or(params, "name"),
              .hash = m.arch_hash,
              .batch = m.batch,
              .resolution = integer_or(params, "res", 0),
              .threads = m.threads,
              .median_ms = m.median_ms,
              .p10_ms = m.p10_ms,
              .p90_ms = m.p90_ms,
              .params = number_or(params, "params", kNoValue),
              .flops = m.flops};
  for (const LayerTimeRow& l : store.layer_times(m.id)) {
    b.layers.push_back(
        {.name = l.name, .kind = l.kind, .key = l.key, .median_ms = l.median_ms, .share = l.share});
  }
  return b;
}

void add_arch(const Store& store, ReportData& data, const std::string& hash) {
  if (hash.empty() || data.archs.contains(hash)) return;
  const std::optional<ArchRow> row = store.arch(hash);
  if (!row) return;
  data.archs[hash] = {.hash = hash,
                      .name = row->name,
                      .canonical_json = row->canonical_json,
                      .stages = stage_summaries(row->canonical_json)};
}

}  // namespace

std::pair<std::string, std::vector<std::pair<std::string, std::string>>> parse_op_key(
    const std::string& key) {
  const std::size_t colon = key.find(':');
  std::pair<std::string, std::vector<std::pair<std::string, std::string>>> out;
  out.first = key.substr(0, colon);
  if (colon == std::string::npos) return out;
  std::size_t at = colon + 1;
  while (at < key.size()) {
    const std::size_t comma = std::min(key.find(',', at), key.size());
    const std::string field = key.substr(at, comma - at);
    const std::size_t eq = field.find('=');
    if (eq != std::string::npos) out.second.emplace_back(field.substr(0, eq), field.substr(eq + 1));
    at = comma + 1;
  }
  return out;
}

std::vector<StageSummary> stage_summaries(const std::string& canonical_json) {
  std::vector<StageSummary> out;
  const Json arch = parse_or_null(canonical_json);
  if (!arch.is_object() || !arch.contains("stages") || !arch["stages"].is_array()) return out;
  for (const Json& stage : arch["stages"]) {
    StageSummary s{.width = integer_or(stage, "width", 0)};
    if (!stage.contains("blocks") || !stage["blocks"].is_array()) return {};
    for (const Json& block : stage["blocks"]) {
      std::string mixer = "-";
      double ratio = kNoValue;
      if (block.contains("units") && block["units"].is_array()) {
        for (const Json& unit : block["units"]) {
          if (!unit.contains("ops") || !unit["ops"].is_array()) continue;
          for (const Json& op : unit["ops"]) {
            if (op.contains("mixer") && op["mixer"].is_string())
              mixer = op["mixer"].get<std::string>();
            if (op.contains("mlp")) ratio = number_or(op, "ratio", kNoValue);
          }
        }
      }
      s.mixers.push_back(mixer);
      s.mlp_ratios.push_back(ratio);
    }
    s.depth = static_cast<std::int64_t>(s.mixers.size());
    out.push_back(std::move(s));
  }
  return out;
}

std::string summary(const ArchInfo& arch) {
  if (arch.stages.empty()) return "?";
  std::vector<std::string> stages;
  for (const StageSummary& s : arch.stages) {
    // Repeated mixers are counted ("pool_mixer x6") so a deep stage stays one short line.
    std::vector<std::string> runs;
    for (std::size_t i = 0; i < s.mixers.size();) {
      std::size_t j = i;
      while (j < s.mixers.size() && s.mixers[j] == s.mixers[i]) ++j;
      runs.push_back(j - i > 1 ? fmt::format("{} x{}", s.mixers[i], j - i) : s.mixers[i]);
      i = j;
    }
    stages.push_back(fmt::format("{}x{} {}", s.width, s.depth, fmt::join(runs, ",")));
  }
  return fmt::format("{}", fmt::join(stages, " | "));
}

double RooflineInfo::attainable_gflops(double intensity) const {
  return std::min(peak_gflops, dram_gbps * intensity);
}

double mape(const std::vector<PredictorPair>& pairs) {
  if (pairs.empty()) return kNoValue;
  double sum = 0;
  for (const PredictorPair& p : pairs)
    sum += std::abs(p.predicted_ms - p.measured_ms) / p.measured_ms;
  return sum / static_cast<double>(pairs.size());
}

ReportData load_report_data(const Store& store, const ReportRequest& request) {
  ReportData data{.db_path = store.path()};
  const std::vector<RunRow> all = store.runs();
  if (request.run_ids.empty()) {
    for (auto it = all.rbegin(); it != all.rend(); ++it) {
      if (it->kind == "search") {
        data.runs.push_back(*it);
        break;
      }
    }
  }
  for (const std::int64_t id : request.run_ids) {
    const auto it =
        std::find_if(all.begin(), all.end(), [&](const RunRow& r) { return r.id == id; });
    if (it == all.end()) {
      throw InvalidArgument(
          fmt::format("report: no run {} in {}; hwnas runs lists them", id, store.path()));
    }
    data.runs.push_back(*it);
  }
  // With no chosen run, the device is the one every other section can still show: the newest run's.
  const std::optional<std::int64_t> device_id =
      !data.runs.empty() ? std::optional(data.runs.front().device_id)
                         : (all.empty() ? std::nullopt : std::optional(all.back().device_id));
  if (device_id) data.device = store.device(*device_id);

  std::set<std::string> front_hashes;
  for (const RunRow& run : data.runs) {
    if (run.kind != "search") continue;
    SearchRun s = load_search(store, run);
    std::set<std::string> paired;
    for (const FrontRow& f : s.front) {
      add_arch(store, data, f.arch_hash);
      front_hashes.insert(f.arch_hash);
      if (f.latency_source == "measured" && std::isfinite(f.predicted_ms) && f.latency_ms > 0 &&
          paired.insert(f.arch_hash).second) {
        data.predictor.push_back({.run_id = run.id,
                                  .hash = f.arch_hash,
                                  .predicted_ms = f.predicted_ms,
                                  .measured_ms = f.latency_ms});
      }
    }
    for (const CandidateRow& c : s.candidates) {
      add_arch(store, data, c.arch_hash);
      // A measured candidate with a prediction beside it is a check of the lookup table; one pair
      // per arch and run (a candidate kept in the population reappears every generation).
      if (c.latency_source == "measured" && std::isfinite(c.predicted_ms) && c.latency_ms > 0 &&
          paired.insert(c.arch_hash).second) {
        data.predictor.push_back({.run_id = run.id,
                                  .hash = c.arch_hash,
                                  .predicted_ms = c.predicted_ms,
                                  .measured_ms = c.latency_ms});
      }
    }
    data.searches.push_back(std::move(s));
  }

  // The predictor's own benchmark: its held-out subnets whose measurement can be trusted (the
  // calibration subnets taught the fit, so they would flatter it; a contended measurement judges
  // nothing, as `hwnas lut` itself leaves them out).
  const auto add_lut_points = [&](const RunRow& run, const std::vector<PredictorPointRow>& points) {
    data.predictor_lut_runs.push_back(run.id);
    for (const PredictorPointRow& p : points) {
      if (p.role != "held_out") continue;
      if (p.contended) {
        ++data.predictor_contended;
        continue;
      }
      add_arch(store, data, p.arch_hash);
      data.predictor.push_back({.run_id = run.id,
                                .hash = p.arch_hash,
                                .predicted_ms = p.predicted_ms,
                                .measured_ms = p.measured_ms,
                                .source = PredictorSource::LutHeldOut});
    }
  };
  const auto has_held_out = [](const std::vector<PredictorPointRow>& points) {
    return std::any_of(points.begin(), points.end(),
                       [](const PredictorPointRow& p) { return p.role == "held_out"; });
  };
  bool lut_chosen = false;
  for (const RunRow& run : data.runs) {
    if (run.kind != "lut") continue;
    lut_chosen = true;
    add_lut_points(run, store.predictor_points(run.id));
  }
  // The newest finished lut run that stored a held-out point, not simply the newest: one from
  // before schema version 5 stored none, and would hide an older one that did.
  const std::int64_t lut_device = device_id.value_or(-1);  // -1: no run at all
  for (auto it = all.rbegin(); it != all.rend() && !lut_chosen; ++it) {
    if (it->kind != "lut" || it->status != RunStatus::Finished || it->device_id != lut_device)
      continue;
    const std::vector<PredictorPointRow> points = store.predictor_points(it->id);
    if (!has_held_out(points)) continue;
    add_lut_points(*it, points);
    break;
  }

  for (const RunRow& run : data.runs) {
    if (run.kind == "reproduce" && !data.claims_run) data.claims_run = run;
  }
  const std::int64_t claims_device = device_id.value_or(-1);
  for (auto it = all.rbegin(); it != all.rend() && !data.claims_run; ++it) {
    if (it->kind == "reproduce" && it->status == RunStatus::Finished &&
        it->device_id == claims_device)
      data.claims_run = *it;
  }
  if (data.claims_run) data.claims = store.claim_results(data.claims_run->id);

  if (!device_id) return data;
  std::map<std::string, SweepPoint> sweep;  // newest per key (runs are oldest first)
  std::map<std::tuple<std::string, std::int64_t, std::int64_t>, ArchBench> catalog;
  std::map<std::string, ArchBench> front_benches;
  for (const RunRow& run : all) {
    if (run.device_id != *device_id) continue;
    if (run.kind == "roofline" && run.status == RunStatus::Finished) {
      if (auto r = roofline_of(run)) data.roofline = r;
      continue;
    }
    if (run.kind != "sweep" && run.kind != "bench" && run.kind != "search") continue;
    for (const MeasurementRow& m : store.measurements_for_run(run.id)) {
      if (run.kind == "sweep" && m.kind == MeasurementKind::Op) {
        auto [op, fields] = parse_op_key(m.key);
        SweepPoint p{.run_id = run.id,
                     .key = m.key,
                     .op = op,
                     .median_ms = m.median_ms,
                     .p10_ms = m.p10_ms,
                     .p90_ms = m.p90_ms,
                     .flops = m.flops,
                     .bytes = m.bytes};
        std::vector<std::string> rest;
        for (const auto& [name, value] : fields) {
          std::int64_t* slot = name == "n"   ? &p.n
                               : name == "h" ? &p.h
                               : name == "w" ? &p.w
                               : name == "c" ? &p.c
                                             : nullptr;
          if (slot != nullptr) {
            *slot = std::strtoll(value.c_str(), nullptr, 10);
            if (name == "c") rest.push_back(fmt::format("{}={}", name, value));
          } else {
            rest.push_back(fmt::format("{}={}", name, value));
          }
        }
        p.config = fmt::format("{} {}", op, fmt::join(rest, ","));
        sweep[m.key] = std::move(p);
      } else if (m.kind == MeasurementKind::Arch) {
        if (run.kind == "bench") {
          ArchBench b = arch_bench(store, run, m);
          add_arch(store, data, b.hash);
          catalog[{b.name, b.batch, b.resolution}] = b;
          if (front_hashes.contains(b.hash)) front_benches[b.hash] = std::move(b);
        } else if (front_hashes.contains(m.arch_hash) && !front_benches.contains(m.arch_hash)) {
          front_benches[m.arch_hash] = arch_bench(store, run, m);
        }
      }
    }
  }
  for (auto& [key, p] : sweep) data.sweep.push_back(std::move(p));
  for (auto& [key, b] : catalog) data.catalog.push_back(std::move(b));
  for (auto& [key, b] : front_benches) data.front_benches.push_back(std::move(b));
  return data;
}

}  // namespace hwnas::reports
