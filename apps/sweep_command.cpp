// hwnas sweep --grid FILE [--db FILE] [--threads N] [--shard i/N] [--resume RUN] [--policy P]
// [--dry-run]
//
// Times every point of a grid (bench/sweep_grid.hpp, docs/sweep.md) with the timing protocol, one
// stored measurement per point, each committed as it completes. A sweep killed at any moment keeps
// every committed point, and --resume measures only the others, so no point is measured twice.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "apps/measurement_output.hpp"
#include "apps/stop_signals.hpp"
#include "bench/drift.hpp"
#include "bench/log.hpp"
#include "bench/op_registry.hpp"
#include "bench/roofline.hpp"
#include "bench/sweep_grid.hpp"
#include "kernels/assert.hpp"
#include "kernels/error.hpp"

namespace hwnas::cli {
namespace {

struct SweepOptions {
  CommonOptions common;
  std::string grid;
  std::optional<std::string> shard;  // absent: 0/1, or the resumed run's
  std::optional<std::int64_t> resume;
  std::optional<std::string> policy;  // absent: default, or the resumed run's
  bool dry_run = false;
  std::uint64_t seed = 1;
};

using Clock = std::chrono::steady_clock;

// "45s", "3m05s", "1h02m".
std::string duration_text(double seconds) {
  const auto s = static_cast<std::int64_t>(seconds + 0.5);
  if (s < 60) return fmt::format("{}s", s);
  if (s < 3600) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}h{:02}m", s / 3600, (s % 3600) / 60);
}

double median_of(std::vector<double> values) {
  HWNAS_ASSERT(!values.empty());
  const auto mid = values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2);
  std::nth_element(values.begin(), mid, values.end());
  return *mid;
}

MeasurePolicy policy_named(const std::string& name) {
  if (name == "default") return MeasurePolicy{};
  if (name == "quick") return MeasurePolicy::quick();
  throw InvalidArgument(fmt::format("sweep: --policy {} is not one of default, quick", name));
}

// The run a --resume continues must be a sweep of the same points, shard, threads and policy:
// otherwise its rows and the new ones would not be one sweep.
void check_resumable(const RunRow& run, const nlohmann::json& config,
                     const nlohmann::json& stored) {
  const nlohmann::json none;
  if (config["grid_digest"] != stored.value("grid_digest", none)) {
    throw InvalidArgument(fmt::format(
        "sweep: --resume {}: the points of --grid {} (digest {}) are not those run {} swept ({}, "
        "digest {}): the "
        "grid file changed or is another grid",
        run.id, config["grid"].get<std::string>(), config["grid_digest"].get<std::string>(), run.id,
        stored.value("grid", std::string("?")), stored.value("grid_digest", std::string("?"))));
  }
  for (const char* field : {"shard", "threads", "policy"}) {
    if (config[field] != stored.value(field, none)) {
      throw InvalidArgument(fmt::format("sweep: --resume {}: --{} {} differs from the run's {}",
                                        run.id, field, config[field].dump(),
                                        stored.value(field, none).dump()));
    }
  }
}

void print_summary(const Store& store, std::int64_t run_id, const std::vector<SweepPoint>& points) {
  std::vector<MeasurementRow> rows = store.measurements_for_run(run_id);
  std::unordered_map<std::string, const MeasurementRow*> by_key;
  for (const MeasurementRow& row : rows) by_key.emplace(row.key, &row);
  std::size_t width = 3;
  for (const SweepPoint& p : points) width = std::max(width, p.key.size());
  fmt::print("{:<{}}  {:>11}  {:>9}  {}\n", "key", width, "median_ms", "GFLOP/s", "flags");
  int contended = 0;
  for (const SweepPoint& p : points) {
    const auto it = by_key.find(p.key);
    if (it == by_key.end()) {
      fmt::print("{:<{}}  {:>11}  {:>9}\n", p.key, width, "-", "-");
      continue;
    }
    const MeasurementRow& row = *it->second;
    fmt::print("{:<{}}  {:>11.4f}  {:>9.1f}  {}\n", p.key, width, row.median_ms,
               achieved_gflops(row.flops, Milliseconds(row.median_ms)), row.flags);
    if (has_flag(row.flags, "contended")) ++contended;
  }
  if (contended > 0) {
    log::warn("sweep",
              "{} point(s) were timed while other processes had the CPUs (flag 'contended'); the "
              "lookup table and the searches time those again rather than trust them",
              contended);
  }
}

void run(const SweepOptions& options) {
  // The whole grid is expanded and validated before anything is opened: a bad grid writes nothing.
  const std::vector<SweepPoint> grid = load_grid(options.grid);
  const std::string digest = points_digest(grid);
  if (options.policy) policy_named(*options.policy);
  Shard shard = parse_shard(options.shard.value_or("0/1"));
  if (options.dry_run) {
    const std::vector<SweepPoint> points = shard_points(grid, shard);
    fmt::print("# {}: {} points, digest {}; shard {}: {} points\n", options.grid, grid.size(),
               digest, to_string(shard), points.size());
    for (const SweepPoint& p : points) fmt::print("{}\n", p.key);
    return;
  }

  // A fresh sweep checks --threads before it creates a store; a resumed one takes the run's.
  std::optional<Engine> engine;
  if (!options.resume) engine.emplace(make_engine(options.common));
  if (options.resume && !std::filesystem::exists(options.common.db)) {
    throw InvalidArgument(
        fmt::format("sweep: --resume {}: no database at {}", *options.resume, options.common.db));
  }
  Store store = Store::open(options.common.db);
  CommonOptions common = options.common;
  std::string policy_name = options.policy.value_or("default");
  if (options.resume) {
    const std::optional<RunRow> run = store.run(*options.resume);
    if (!run)
      throw InvalidArgument(fmt::format("sweep: --resume {}: no run {} in {}", *options.resume,
                                        *options.resume, options.common.db));
    if (run->kind != "sweep") {
      throw InvalidArgument(fmt::format("sweep: --resume {}: run {} is a '{}' run, not a sweep",
                                        run->id, run->id, run->kind));
    }
    // Flags left out take the run's values; flags given must match them (check_resumable).
    const nlohmann::json stored = nlohmann::json::parse(run->config_json);
    if (!common.threads) common.threads = stored.value("threads", 0);
    if (!options.policy) policy_name = stored.value("policy", std::string("default"));
    if (!options.shard) shard = parse_shard(stored.value("shard", std::string("0/1")));
  }
  const std::vector<SweepPoint> points = shard_points(grid, shard);
  const MeasurePolicy policy = policy_named(policy_name);
  if (!engine) engine.emplace(make_engine(common));
  const int threads = engine->threads();
  const nlohmann::json config = {
      {"grid", options.grid},      {"grid_digest", digest},   {"grid_points", grid.size()},
      {"shard", to_string(shard)}, {"points", points.size()}, {"threads", threads},
      {"policy", policy_name},     {"seed", options.seed},    {"ci_rel", policy.ci_rel}};
  const DeviceContext device = register_device(store, *engine);

  std::optional<RunScope> scope;
  std::unordered_set<std::string> measured;
  if (options.resume) {
    const RunRow run = *store.run(*options.resume);
    check_resumable(run, config, nlohmann::json::parse(run.config_json));
    if (run.device_id != device.device_id) {
      throw InvalidArgument(
          fmt::format("sweep: --resume {}: run {} measured device {}, this is device {}: a sweep "
                      "is resumed on the machine it began on",
                      run.id, run.id, run.device_id, device.device_id));
    }
    scope.emplace(store, RunScope::Resume{.run_id = run.id, .kind = "sweep"});
    for (std::string& key : store.measured_keys(run.id)) measured.insert(std::move(key));
  } else {
    scope.emplace(store, RunRow{.kind = "sweep",
                                .device_id = device.device_id,
                                .config_json = config.dump(),
                                .code_version = device.fingerprint.code_version,
                                .software_json = software_json(device.fingerprint)});
  }
  const std::int64_t run_id = scope->id();
  std::vector<const SweepPoint*> todo;
  for (const SweepPoint& p : points) {
    if (!measured.contains(p.key)) todo.push_back(&p);
  }
  const std::size_t done_before = points.size() - todo.size();
  log::info("sweep",
            "run={} grid={} points={} shard={} shard_points={} measured_before={} to_measure={} "
            "threads={} "
            "policy={}",
            run_id, options.grid, grid.size(), to_string(shard), points.size(), done_before,
            todo.size(), threads, policy_name);

  // SIGINT / SIGTERM end the sweep between two points, so the run is marked unfinished at once (a
  // point takes at most ~12 s under the default policy).
  const StopSignals signals;
  // A drift check brackets the sweep; one point is too short for drift to matter.
  std::optional<DriftMonitor> drift;
  if (todo.size() > 1) drift = DriftMonitor::start(policy);
  const bool tty = isatty(fileno(stderr)) != 0;
  const Clock::time_point start = Clock::now();
  std::vector<double> point_s;  // wall time per point: preparation, measurement and the commit
  std::size_t done = done_before;
  for (const SweepPoint* p : todo) {
    if (signals.received() != 0) break;
    const Clock::time_point point_start = Clock::now();
    const double elapsed_s = std::chrono::duration<double>(point_start - start).count();
    const std::string eta =
        point_s.empty()
            ? "?"
            : duration_text(median_of(point_s) * static_cast<double>(todo.size() - point_s.size()));
    const std::string line = fmt::format(
        "[sweep] {}/{} {} elapsed {} eta {}", done + 1, points.size(),
        p->key.size() > 60 ? p->key.substr(0, 57) + "..." : p->key, duration_text(elapsed_s), eta);
    if (tty) fmt::print(stderr, "\r{}\033[K", line);
    // The seed follows the key, so a resumed or sharded sweep draws the same inputs for a point.
    const Workload w =
        make_workload(*engine, p->op, p->assignments, options.seed + fnv1a64(p->key));
    HWNAS_ASSERT(w.key == p->key);
    Clock::time_point last_draw = point_start;
    const auto progress = [&](const MeasureProgress& m) {
      if (!tty || Clock::now() - last_draw < std::chrono::milliseconds(100)) return;
      last_draw = Clock::now();
      fmt::print(stderr, "\r{} {} n={}\033[K", line,
                 m.phase == MeasureProgress::Phase::Warmup ? "warm-up" : "timing", m.samples);
    };
    const Measurement m = measure(w.run, policy, progress);
    warn_if_contended("sweep", w.key, m);
    MeasurementRow row = op_measurement_row(w, m, run_id, threads);
    row.batch = p->batch;
    store.add_measurement(row);
    ++done;
    point_s.push_back(std::chrono::duration<double>(Clock::now() - point_start).count());
    if (!tty) {
      log::info("sweep",
                "{}/{} key={} median_ms={:.4f} cv={:.3f} n={} elapsed_s={:.1f} eta_s={:.0f}", done,
                points.size(), p->key, m.stats.median.count(), m.stats.cv, m.stats.n,
                std::chrono::duration<double>(Clock::now() - start).count(),
                median_of(point_s) * static_cast<double>(todo.size() - point_s.size()));
    }
  }
  if (tty) fmt::print(stderr, "\r\033[K");
  if (signals.received() != 0) {
    scope->finish(RunStatus::Unfinished);
    throw Error(fmt::format(
        "sweep: stopped by signal {} after {}/{} points; run {} is unfinished: continue it "
        "with --resume {}",
        signals.received(), done, points.size(), run_id, run_id));
  }
  std::optional<RunDrift> run_drift;
  if (drift) {
    const DriftCheck check = drift->finish();
    run_drift = RunDrift{.rel = check.relative_change, .drifted = check.drifted};
    if (check.drifted) {
      log::warn("sweep",
                "the reference kernel changed by {:+.1f}% during this sweep: the machine's speed "
                "drifted; "
                "run {} is marked drifted",
                100 * check.relative_change, run_id);
    }
  }
  scope->finish(RunStatus::Finished, run_drift);
  log::info("sweep", "run={} finished: {} points measured now, {} before, {}", run_id, todo.size(),
            done_before,
            duration_text(std::chrono::duration<double>(Clock::now() - start).count()));
  print_summary(store, run_id, points);
}

}  // namespace

void add_sweep_command(CLI::App& app) {
  auto options = std::make_shared<SweepOptions>();
  CLI::App* command = app.add_subcommand("sweep",
                                         "Time every point of a grid (docs/sweep.md) and store one "
                                         "measurement per point; resumable, shardable");
  command->add_option("--grid", options->grid, "grid JSON file, e.g. bench/grids/mixers.json")
      ->required();
  command->add_option(
      "--shard", options->shard,
      "take the points of shard i of N (i/N, 0-based): a deterministic 1/N by a hash of each key");
  command->add_option(
      "--resume", options->resume,
      "continue run RUN (same grid, shard, threads and policy), skipping its measured points");
  command->add_option("--policy", options->policy,
                      "timing policy: default or quick (default: default)");
  command->add_flag("--dry-run", options->dry_run, "print the points and exit; opens no store");
  command->add_option("--seed", options->seed, "seed of the random inputs")->capture_default_str();
  add_threads_option(*command, options->common);
  add_db_option(*command, options->common);
  command->callback([options] { run(*options); });
}

}  // namespace hwnas::cli
