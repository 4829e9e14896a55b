// hwnas lut --space FILE [--samples 50] [--calibrate 20] [--batch 1] [--res 224] [--threads N]
//   [--seed S] [--db FILE] [--policy default|quick] [--json]
//
// The lookup-table predictor's benchmark (the issue's "LUT MAPE and worst error on 50 random
// subnets of the default space"): calibrate + samples random subnets, each measured end to end
// (cached) and predicted from its layers; the calibration is fitted on the first `calibrate` archs
// only and then frozen, and the error is reported on the `samples` held out. Each subnet's
// prediction and measurement is stored as it is measured (table predictor_points, once per arch and
// run), so `hwnas report` can plot the held-out ones.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "apps/latency_evaluators.hpp"
#include "bench/log.hpp"
#include "kernels/error.hpp"
#include "search/genome.hpp"
#include "search/predictor_error.hpp"
#include "store/store.hpp"
#include "supernet/search_space.hpp"

namespace hwnas::cli {
namespace {

struct LutOptions {
  CommonOptions common;
  std::string space;
  std::int64_t samples = 50;
  std::int64_t calibrate = 20;
  std::int64_t batch = 1;
  std::int64_t resolution = 224;
  std::uint64_t seed = 1;
  std::string policy = "default";
  bool json = false;
};

struct Point {
  std::string hash;
  double measured_ms = 0;
  double predicted_ms = 0;  // calibrated
  double layer_sum_ms = 0;  // uncalibrated
  double n_layers = 0;
  nlohmann::json by_op;  // op -> {ms, layers}
  bool contended = false;  // measured while other processes had the CPUs: not judged
};

std::int64_t count_contended(const std::vector<Point>& points) {
  return std::count_if(points.begin(), points.end(), [](const Point& p) { return p.contended; });
}

// The error over the points whose measurement can be trusted; over all of them (with a warning)
// when none can.
PredictorError error_of(const std::vector<Point>& points, bool calibrated) {
  const bool all_contended = count_contended(points) == std::ssize(points);
  std::vector<double> predicted, measured;
  for (const Point& p : points) {
    if (p.contended && !all_contended) continue;
    predicted.push_back(calibrated ? p.predicted_ms : p.layer_sum_ms);
    measured.push_back(p.measured_ms);
  }
  return predictor_error(predicted, measured);
}

// Fractions, not percent, as every other share in hwnas's JSON; kendall_tau null when undefined.
nlohmann::json to_json(const PredictorError& e) {
  nlohmann::json tau = std::isnan(e.kendall_tau) ? nlohmann::json() : nlohmann::json(e.kendall_tau);
  return {{"mape", e.mape_pct / 100},
          {"worst_error", e.worst_ape_pct / 100},
          {"within_5", e.within_5pct},
          {"within_10", e.within_10pct},
          {"kendall_tau", std::move(tau)}};
}

std::string format_duration(double seconds) {
  const auto s = static_cast<std::int64_t>(std::lround(seconds));
  return s >= 60 ? fmt::format("{}m{:02}s", s / 60, s % 60) : fmt::format("{}s", s);
}

nlohmann::json points_json(const std::vector<Point>& points) {
  nlohmann::json j = nlohmann::json::array();
  for (const Point& p : points) {
    j.push_back({{"arch_hash", p.hash},
                 {"measured_ms", p.measured_ms},
                 {"predicted_ms", p.predicted_ms},
                 {"layer_sum_ms", p.layer_sum_ms},
                 {"n_layers", p.n_layers},
                 {"layers_by_op", p.by_op},
                 {"contended", p.contended},
                 {"error", (p.predicted_ms - p.measured_ms) / p.measured_ms}});
  }
  return j;
}

nlohmann::json by_op_json(const LutLatency::LayerSum& sum) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [op, totals] : sum.by_op)
    j[op] = {{"ms", totals.first}, {"layers", totals.second}};
  return j;
}

PredictorPointRow point_row(std::int64_t run_id, const Point& p, bool calibrating) {
  return {.run_id = run_id,
          .arch_hash = p.hash,
          .role = calibrating ? "calibrate" : "held_out",
          .predicted_ms = p.predicted_ms,
          .layer_sum_ms = p.layer_sum_ms,
          .n_layers = p.n_layers,
          .measured_ms = p.measured_ms,
          .contended = p.contended};
}

void check_options(const LutOptions& o) {
  if (o.samples < 1)
    throw InvalidArgument(fmt::format("lut: --samples {} must be >= 1", o.samples));
  if (o.calibrate < 0) {
    throw InvalidArgument(fmt::format("lut: --calibrate {} must be >= 0", o.calibrate));
  }
  if (o.batch < 1) throw InvalidArgument(fmt::format("lut: --batch {} must be >= 1", o.batch));
  if (o.policy != "default" && o.policy != "quick") {
    throw InvalidArgument(fmt::format("lut: --policy {} is not one of default, quick", o.policy));
  }
}

void run(const LutOptions& options) {
  check_options(options);
  const MeasurePolicy policy = options.policy == "quick" ? MeasurePolicy::quick() : MeasurePolicy{};
  // Everything the user gave is read and every arch drawn before the store is touched.
  const SearchSpace space = [&] {
    try {
      return load_search_space_file(options.space);
    } catch (const IoError& e) {
      // A space file that cannot be read is the user's input, as bench treats its files.
      throw InvalidArgument(fmt::format("lut: --space {}", e.what()));
    }
  }();
  if (std::find(space.resolutions.begin(), space.resolutions.end(), options.resolution) ==
      space.resolutions.end()) {
    throw InvalidArgument(fmt::format("lut: --res {} is not one of the resolutions of {} ({})",
                                      options.resolution, options.space,
                                      fmt::join(space.resolutions, ", ")));
  }
  std::mt19937_64 rng(options.seed);
  std::vector<Arch> archs;
  for (std::int64_t i = 0; i < options.calibrate + options.samples; ++i) {
    archs.push_back(sample_arch(space, rng, options.resolution));
  }
  const Engine engine = make_engine(options.common);

  Store store = Store::open(options.common.db);
  const DeviceContext device = register_device(store, engine);
  const int threads = engine.threads();
  const nlohmann::json config = {{"space", options.space},         {"samples", options.samples},
                                 {"calibrate", options.calibrate}, {"batch", options.batch},
                                 {"res", options.resolution},      {"threads", threads},
                                 {"seed", options.seed},           {"policy", options.policy}};
  RunScope run_scope(store, {.kind = "lut",
                             .device_id = device.device_id,
                             .config_json = config.dump(),
                             .code_version = device.fingerprint.code_version,
                             .software_json = software_json(device.fingerprint)});
  LutLatency lut(engine, store,
                 {.device_id = device.device_id,
                  .run_id = run_scope.id(),
                  .batch = options.batch,
                  .resolution = options.resolution,
                  .policy = policy,
                  .seed = options.seed});

  const bool tty = isatty(fileno(stderr)) != 0;
  const auto start = std::chrono::steady_clock::now();
  std::vector<Point> calibration_set, held_out;
  std::set<std::string> stored_points;  // arch hashes with a predictor_points row in this run
  for (std::size_t i = 0; i < archs.size(); ++i) {
    const bool calibrating = static_cast<std::int64_t>(i) < options.calibrate;
    if (!calibrating && static_cast<std::int64_t>(i) == options.calibrate) {
      lut.set_updates(CalibrationUpdates::Frozen);
      log::info("lut", "calibration {}", lut.calibration_summary());
    }
    const LatencyEstimate e = lut.measure(archs[i]);
    const LutLatency::LayerSum sum = lut.layer_sum(archs[i]);  // every entry is stored by now
    const std::string hash = arch_hash(archs[i]);
    const double elapsed_s =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double eta_s =
        elapsed_s / static_cast<double>(i + 1) * static_cast<double>(archs.size() - i - 1);
    if (tty) {
      fmt::print(stderr, "\r[lut] {}/{} {} {} measured={:.3f} ms predicted={:.3f} ms eta {}\033[K",
                 i + 1, archs.size(), calibrating ? "calibrate" : "held-out", hash, e.ms,
                 e.predicted_ms, format_duration(eta_s));
    } else {
      log::info("lut",
                "arch={}/{} set={} hash={} measured_ms={:.4f} predicted_ms={:.4f} eta_s={:.0f}",
                i + 1, archs.size(), calibrating ? "calibrate" : "held_out", hash, e.ms,
                e.predicted_ms, eta_s);
    }
    const Point& point = (calibrating ? calibration_set : held_out)
                             .emplace_back(Point{.hash = hash,
                                                 .measured_ms = e.ms,
                                                 .predicted_ms = e.predicted_ms,
                                                 .layer_sum_ms = sum.sum_ms,
                                                 .n_layers = sum.n_layers,
                                                 .by_op = by_op_json(sum),
                                                 .contended = lut.measured().last_contended()});
    // Stored as it is measured (its own transaction, as the measurement's), so a killed run keeps
    // the points it has. A subnet drawn twice is stored once, in the role it was first drawn in.
    if (stored_points.insert(hash).second) {
      store.add_predictor_points(std::vector{point_row(run_scope.id(), point, calibrating)});
    }
  }
  if (tty) fmt::print(stderr, "\r\033[K");
  run_scope.finish(RunStatus::Finished);
  const std::int64_t contended_held_out = count_contended(held_out);
  const std::int64_t contended_calibration = count_contended(calibration_set);
  if (contended_held_out + contended_calibration > 0) {
    log::warn("lut",
              "{} held-out and {} calibration subnet(s) were measured while other processes had "
              "the CPUs: they are left out of the error and of the fit{}",
              contended_held_out, contended_calibration,
              contended_held_out == std::ssize(held_out)
                  ? " - except that every held-out one was, so the error below is over all of "
                    "them and not to be trusted"
                  : "");
  }

  const PredictorError calibrated = error_of(held_out, true);
  const PredictorError uncalibrated = error_of(held_out, false);
  const LatencyCalibration& c = lut.calibration();
  if (options.json) {
    nlohmann::json j = to_json(calibrated);
    j.update(
        {{"run_id", run_scope.id()},
         {"samples", options.samples},
         {"calibrate", options.calibrate},
         {"batch", options.batch},
         {"res", options.resolution},
         {"threads", threads},
         {"calibration",
          {{"a", c.a}, {"b_ms", c.b}, {"pairs", c.pairs}, {"relative_error", c.relative_error}}},
         {"uncalibrated", to_json(uncalibrated)},
         {"contended", {{"held_out", contended_held_out}, {"calibrate", contended_calibration}}},
         {"archs_timed", lut.measured().timed()},
         {"layers_timed", lut.layers_timed()},
         {"archs", points_json(held_out)},
         {"calibration_archs", points_json(calibration_set)}});
    fmt::print("{}\n", j.dump(2));
    return;
  }
  fmt::print("lut on {} held-out subnets of {} (batch {} res {} threads {}), calibration {}\n",
             options.samples, space.name, options.batch, options.resolution, threads, describe(c));
  const auto line = [](std::string_view what, const PredictorError& e) {
    fmt::print(
        "  {:<13} MAPE {:5.1f}%  worst {:5.1f}%  within 5% {:5.1f}%  within 10% {:5.1f}%  "
        "Kendall tau {:.3f}\n",
        what, e.mape_pct, e.worst_ape_pct, 100 * e.within_5pct, 100 * e.within_10pct,
        e.kendall_tau);
  };
  line("calibrated", calibrated);
  line("layer sum", uncalibrated);
  fmt::print("  timed: {} archs end to end, {} layers (run {})\n", lut.measured().timed(),
             lut.layers_timed(), run_scope.id());
}

}  // namespace

void add_lut_command(CLI::App& app) {
  auto options = std::make_shared<LutOptions>();
  CLI::App* command = app.add_subcommand(
      "lut",
      "Judge the latency lookup table: predict random subnets of a space from their layers and "
      "compare with end-to-end measurements");
  command->add_option("--space", options->space, "a SearchSpace JSON file")->required();
  command->add_option("--samples", options->samples, "held-out subnets the error is reported on")
      ->capture_default_str();
  command->add_option("--calibrate", options->calibrate, "subnets the calibration is fitted on")
      ->capture_default_str();
  command->add_option("--batch", options->batch, "images per forward")->capture_default_str();
  command->add_option("--res", options->resolution, "input resolution, one of the space's")
      ->capture_default_str();
  command->add_option("--seed", options->seed, "seed of the subnets drawn and their weights")
      ->capture_default_str();
  command->add_option("--policy", options->policy, "timing policy: default or quick")
      ->capture_default_str();
  command->add_flag("--json", options->json, "print one JSON object");
  add_threads_option(*command, options->common);
  add_db_option(*command, options->common);
  command->callback([options] { run(*options); });
}

}  // namespace hwnas::cli
