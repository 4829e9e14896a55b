#include "apps/latency_evaluators.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "apps/arch_measurement.hpp"
#include "apps/measurement_output.hpp"
#include "bench/arch_timing.hpp"
#include "bench/log.hpp"
#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "supernet/subnet.hpp"

namespace hwnas::cli {
namespace {

std::string repro(std::string_view hash, const LatencyOptions& o, int threads,
                  std::string_view extra = "") {
  return fmt::format("hwnas bench {}.json --batch {} --res {} --threads {} --seed {}{}", hash,
                     o.batch, o.resolution, threads, o.seed, extra);
}

ArchBenchOptions bench_options(const LatencyOptions& o) {
  return {.batch = o.batch, .resolution = o.resolution, .seed = o.seed};
}

}  // namespace

MeasuredLatency::MeasuredLatency(const Engine& engine, Store& store, const LatencyOptions& options)
    : engine_(&engine), store_(&store), options_(options) {}

LatencyEstimate MeasuredLatency::measure(const Arch& arch) {
  const std::string hash = arch_hash(arch);
  const int threads = engine_->threads();
  const std::optional<MeasurementRow> cached = store_->latest_measurement(
      {.key = arch_measurement_key(hash, options_.batch, options_.resolution),
       .device_id = options_.device_id,
       .threads = threads,
       .dtype = "f32",
       .batch = options_.batch,
       .own_run_id = options_.run_id});
  if (cached) {
    last_contended_ = has_flag(cached->flags, "contended");  // only ever a row of this run
    return {.ms = cached->median_ms, .source = "measured", .cache_hit = true};
  }

  PreparedArch p = prepare_arch(*engine_, arch, bench_options(options_));
  const ArchTiming timing = time_arch(p, options_.policy, LayerTimes::None);
  store_->upsert_arch(arch_row(p.arch, p.hash));
  store_->add_measurement(arch_measurement_row(p, timing.measurement, options_.run_id, threads,
                                               repro(p.hash, options_, threads)));
  ++timed_;
  last_contended_ = timing.measurement.contended;
  warn_if_contended("latency", p.hash, timing.measurement);
  return {.ms = timing.measurement.stats.median.count(), .source = "measured"};
}

LutLatency::LutLatency(const Engine& engine, Store& store, const LatencyOptions& options)
    : engine_(&engine), store_(&store), options_(options), measured_(engine, store, options) {}

std::set<std::string, std::less<>> LutLatency::find_entries(const std::vector<LayerInfo>& layers) {
  std::set<std::string, std::less<>> missing;
  for (const LayerInfo& layer : layers) {
    if (entries_.contains(layer.key) || missing.contains(layer.key)) continue;
    const std::optional<MeasurementRow> row =
        store_->latest_measurement({.key = layer.key,
                                    .device_id = options_.device_id,
                                    .threads = engine_->threads(),
                                    .dtype = "f32",
                                    .batch = options_.batch,
                                    .own_run_id = options_.run_id});
    if (row) {
      entries_.emplace(layer.key, row->median_ms);
    } else {
      missing.insert(layer.key);
    }
  }
  return missing;
}

LutLatency::LayerSum LutLatency::layer_sum(const Arch& arch) {
  const std::vector<LayerInfo> layers = arch_cost(arch, options_.resolution, options_.batch).layers;
  const int threads = engine_->threads();
  std::set<std::string, std::less<>> missing = find_entries(layers);
  LayerSum sum{.missing = static_cast<std::int64_t>(missing.size())};
  if (!missing.empty()) {
    PreparedArch p = prepare_arch(*engine_, arch, bench_options(options_));
    const std::vector<LayerInfo>& built = p.net.layers();
    std::vector<std::size_t> indices;  // the first layer of each missing key
    for (std::size_t i = 0; i < built.size(); ++i) {
      if (missing.erase(built[i].key) > 0) indices.push_back(i);
    }
    HWNAS_ASSERT(missing.empty());  // arch_cost and the built subnet name the same layers
    const std::vector<LayerTiming> timed = time_layers(p, options_.policy, indices);
    std::vector<MeasurementRow> rows;
    int contended = 0;
    double worst_contention = 0;
    for (const LayerTiming& layer : timed) {
      if (layer.measurement.contended) {
        ++contended;
        worst_contention = std::max(worst_contention, layer.measurement.contention);
      }
      const nlohmann::json params = {{"arch_hash", p.hash},
                                     {"layer", layer.info.name},
                                     {"kind", layer.info.kind},
                                     {"res", options_.resolution}};
      MeasurementRow row{.run_id = options_.run_id,
                         .kind = MeasurementKind::Op,
                         .key = layer.info.key,
                         .params_json = params.dump(),
                         .shapes = fmt::format("layer={}", layer.info.name),
                         .threads = threads,
                         .batch = options_.batch,
                         .impl = "layer",
                         .flops = layer.info.cost.flops,
                         .bytes = layer.info.cost.bytes,
                         .repro = repro(p.hash, options_, threads, " --layers")};
      set_statistics(row, layer.measurement);
      entries_.emplace(layer.info.key, row.median_ms);
      rows.push_back(std::move(row));
    }
    store_->upsert_arch(arch_row(p.arch, p.hash));
    store_->add_measurements(rows);
    layers_timed_ += static_cast<std::int64_t>(rows.size());
    if (contended > 0) {
      log::warn("lut",
                "{} of {} layers of {} timed while other processes had the CPUs (up to {:.0f} % of "
                "the time): stored flagged 'contended', and a later run times them again",
                contended, rows.size(), p.hash, 100 * worst_contention);
    }
  }
  for (const LayerInfo& layer : layers) {
    const double ms = entries_.at(layer.key);
    sum.sum_ms += ms;
    sum.n_layers += 1;
    auto& [op_ms, op_count] = sum.by_op[layer.key.substr(0, layer.key.find(':'))];
    op_ms += ms;
    op_count += 1;
  }
  return sum;
}

LatencyEstimate LutLatency::estimate(const Arch& arch) {
  const LayerSum sum = layer_sum(arch);
  const double ms = calibration_.predict(sum.sum_ms, sum.n_layers);
  return {.ms = ms, .source = "lut", .predicted_ms = ms, .cache_hit = sum.missing == 0};
}

LatencyEstimate LutLatency::measure(const Arch& arch) {
  const LayerSum sum = layer_sum(arch);
  LatencyEstimate e = measured_.measure(arch);
  e.predicted_ms = calibration_.predict(sum.sum_ms, sum.n_layers);
  if (!measured_.last_contended()) {
    add_pair(arch_hash(arch),
             {.layer_sum_ms = sum.sum_ms, .n_layers = sum.n_layers, .measured_ms = e.ms});
  }
  return e;
}

void LutLatency::add_pair(const std::string& hash, const CalibrationPair& pair) {
  if (!paired_.insert(hash).second) return;
  pairs_.push_back(pair);
  if (updates_ == CalibrationUpdates::Refit) {
    calibration_ = fit_calibration(pairs_);
    log::debug("lut", "calibration {}", describe(calibration_));
  }
}

std::size_t LutLatency::add_stored_pairs() {
  std::map<std::string, double> measured;  // hash -> the newest end-to-end median
  for (const RunRow& run : store_->runs()) {
    if (run.device_id != options_.device_id) continue;
    for (const MeasurementRow& row : store_->measurements_for_run(run.id)) {
      // A contended measurement is no pair, even of this run (measure() did not pair it either).
      if (!has_flag(row.flags, "contended") && row.kind == MeasurementKind::Arch &&
          row.threads == engine_->threads() && row.batch == options_.batch && row.dtype == "f32" &&
          row.key == arch_measurement_key(row.arch_hash, options_.batch, options_.resolution)) {
        measured[row.arch_hash] = row.median_ms;
      }
    }
  }
  std::size_t added = 0;
  const CalibrationUpdates updates = updates_;
  updates_ = CalibrationUpdates::Frozen;  // one fit at the end, not one per pair
  for (const auto& [hash, ms] : measured) {
    if (paired_.contains(hash)) continue;
    const std::optional<ArchRow> row = store_->arch(hash);
    if (!row) continue;
    std::vector<LayerInfo> layers;
    try {
      layers = arch_cost(parse_arch(row->canonical_json, "store archs " + hash),
                         options_.resolution, options_.batch)
                   .layers;
    } catch (const InvalidArgument& e) {
      // A row written by another version of the Arch format: not a reason to refuse to search.
      log::warn("lut", "arch {} in the store is skipped for calibration: {}", hash, e.what());
      continue;
    }
    if (!find_entries(layers).empty()) continue;
    CalibrationPair pair{.measured_ms = ms};
    for (const LayerInfo& layer : layers) {
      pair.layer_sum_ms += entries_.at(layer.key);
      pair.n_layers += 1;
    }
    add_pair(hash, pair);
    ++added;
  }
  updates_ = updates;
  if (added > 0 && updates_ == CalibrationUpdates::Refit) calibration_ = fit_calibration(pairs_);
  return added;
}

}  // namespace hwnas::cli
