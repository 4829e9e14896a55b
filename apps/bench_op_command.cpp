// hwnas bench-op OP key=value... | --suite backbone|mixers|layers | --list   [--threads N] [--db
// FILE]
// [--json]
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "apps/measurement_output.hpp"
#include "apps/roofline_cache.hpp"
#include "bench/drift.hpp"
#include "bench/log.hpp"
#include "bench/op_registry.hpp"
#include "kernels/error.hpp"

namespace hwnas::cli {
namespace {

struct BenchOpOptions {
  CommonOptions common;
  std::vector<std::string> words;  // OP key=value...
  bool list = false;
  std::string suite;
  bool json = false;
  std::string policy = "default";
  std::uint64_t seed = 1;
};

void print_list() {
  for (const OpEntry& entry : op_registry()) {
    fmt::print("{:<18} {}\n", entry.name, entry.summary);
    for (const ParamSpec& p : entry.params) {
      const std::string range = p.is_word() ? fmt::format("{{{}}}", fmt::join(p.choices, ", "))
                                            : fmt::format("[{}, {}]", p.min, p.max);
      fmt::print("    {:<14} default {:<10} {:<28} {}\n", p.name, p.default_value, range, p.help);
    }
  }
}

struct Result {
  const Workload* workload;
  Measurement measurement;
  double gflops, gbps, attainable_gflops, roofline_fraction;
  std::int64_t measurement_id;
};

nlohmann::json to_json(const Result& r, int threads, std::int64_t run_id) {
  nlohmann::json j = statistics_json(r.measurement);
  j.update({{"key", r.workload->key},
            {"impl", r.workload->impl},
            {"flops", r.workload->cost.flops},
            {"bytes", r.workload->cost.bytes},
            {"params", r.workload->cost.params},
            {"gflops", r.gflops},
            {"gbps", r.gbps},
            {"attainable_gflops", r.attainable_gflops},
            {"roofline_fraction", r.roofline_fraction},
            {"threads", threads},
            {"run_id", run_id},
            {"measurement_id", r.measurement_id},
            {"repro", op_repro_command(r.workload->key, threads)}});
  return j;
}

void print_result(const Result& r) {
  const SampleStats& s = r.measurement.stats;
  fmt::print("{:<58} {:>9.4f} ms  [{:.4f}, {:.4f}]  cv {:>5.1f}%  n {:>5}  {:>7.1f} GFLOP/s  {:>7.1f} GB/s  "
             "roofline {:>5.1f}%  {}\n",
             r.workload->key, s.median.count(), s.p10.count(), s.p90.count(), 100 * s.cv, s.n, r.gflops,
             r.gbps, 100 * r.roofline_fraction, r.workload->impl);
  std::fflush(stdout);
}

void run(const BenchOpOptions& options) {
  if (options.list) {
    print_list();
    return;
  }
  std::vector<SuiteEntry> entries;
  if (!options.suite.empty()) {
    if (!options.words.empty()) {
      throw InvalidArgument(fmt::format("bench-op: give either --suite {} or an op, not both", options.suite));
    }
    if (options.suite == "backbone") {
      entries = backbone_suite();
    } else if (options.suite == "mixers") {
      entries = mixer_suite();
    } else if (options.suite == "layers") {
      entries = layer_suite();
    } else {
      throw InvalidArgument(fmt::format(
          "bench-op: unknown --suite '{}'; suites: backbone, mixers, layers", options.suite));
    }
  } else {
    if (options.words.empty()) {
      throw InvalidArgument(
          "bench-op: name an op (hwnas bench-op --list shows them) or give --suite "
          "backbone|mixers|layers");
    }
    entries.push_back({options.words.front(), {options.words.begin() + 1, options.words.end()}, ""});
  }
  if (options.policy != "default" && options.policy != "quick") {
    throw InvalidArgument(fmt::format("bench-op: --policy {} is not one of default, quick", options.policy));
  }
  const MeasurePolicy policy = options.policy == "quick" ? MeasurePolicy::quick() : MeasurePolicy{};

  // Every config is validated and prepared before the store is touched: bad input writes nothing.
  const Engine engine = make_engine(options.common);
  std::vector<Workload> workloads;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    workloads.push_back(make_workload(engine, entries[i].op, entries[i].assignments, options.seed + i));
  }

  Store store = Store::open(options.common.db);
  const DeviceContext device = register_device(store, engine);
  const Roofline roofline = roofline_for(store, engine, device, policy);
  constexpr double kRooflineSuspect = 1.15;
  bool warned_roofline = false;
  const int threads = engine.threads();
  const nlohmann::json config = {{"suite", options.suite},  {"words", options.words}, {"threads", threads},
                                 {"policy", options.policy}, {"seed", options.seed},   {"ci_rel", policy.ci_rel}};
  RunScope run_scope(store, {.kind = "bench-op",
                             .device_id = device.device_id,
                             .config_json = config.dump(),
                             .code_version = device.fingerprint.code_version,
                             .software_json = software_json(device.fingerprint)});
  // A drift check brackets runs of several configs; one config is too short for drift to matter.
  std::optional<DriftMonitor> drift;
  if (workloads.size() > 1) drift = DriftMonitor::start(policy);

  const bool tty = isatty(fileno(stderr)) != 0;
  nlohmann::json json_results = nlohmann::json::array();
  for (std::size_t i = 0; i < workloads.size(); ++i) {
    const Workload& w = workloads[i];
    const auto progress = [&](const MeasureProgress& p) {
      if (!tty) return;
      fmt::print(stderr, "\r[bench-op] {}/{} {} {} samples={} median={:.4f} ms\033[K", i + 1, workloads.size(),
                 w.key, p.phase == MeasureProgress::Phase::Warmup ? "warm-up" : "timing", p.samples,
                 p.median.count());
    };
    Result r{.workload = &w, .measurement = measure(w.run, policy, progress)};
    if (tty) fmt::print(stderr, "\r\033[K");
    const Milliseconds median = r.measurement.stats.median;
    r.gflops = achieved_gflops(w.cost.flops, median);
    r.gbps = w.cost.bytes / (median.count() * 1e6);
    r.attainable_gflops = attainable_gflops(roofline, w.cost.flops, w.cost.bytes, w.working_set_bytes);
    r.roofline_fraction = roofline_fraction(roofline, w.cost, median, w.working_set_bytes);
    // Beating the roofline by more than the noise means the stored ceilings are too low: typically
    // they were measured while something else loaded the machine, and every fraction since is inflated.
    if (r.roofline_fraction > kRooflineSuspect && !warned_roofline) {
      log::warn("bench-op", "key={} runs at {:.0f} % of the stored roofline: the roofline was probably measured "
                "under load; re-measure it with `hwnas device --roofline --threads {}`",
                w.key, 100 * r.roofline_fraction, threads);
      warned_roofline = true;
    }
    // Each measurement is committed as it completes: a killed suite keeps what it finished.
    r.measurement_id =
        store.add_measurement(op_measurement_row(w, r.measurement, run_scope.id(), threads));
    warn_if_contended("bench-op", w.key, r.measurement);
    log::info("bench-op", "{}/{} key={} median_ms={:.4f} cv={:.3f} n={} impl={}", i + 1, workloads.size(), w.key,
              median.count(), r.measurement.stats.cv, r.measurement.stats.n, w.impl);
    if (options.json) {
      json_results.push_back(to_json(r, threads, run_scope.id()));
    } else {
      print_result(r);
    }
  }
  std::optional<RunDrift> run_drift;
  if (drift) {
    const DriftCheck check = drift->finish();
    run_drift = RunDrift{.rel = check.relative_change, .drifted = check.drifted};
    if (check.drifted) {
      log::warn("bench-op", "the reference kernel changed by {:+.1f}% during this run: the machine's speed "
                "drifted; run {} is marked drifted", 100 * check.relative_change, run_scope.id());
    }
  }
  run_scope.finish(RunStatus::Finished, run_drift);
  if (options.json) fmt::print("{}\n", json_results.size() == 1 ? json_results[0].dump(2) : json_results.dump(2));
}

}  // namespace

void add_bench_op_command(CLI::App& app) {
  auto options = std::make_shared<BenchOpOptions>();
  CLI::App* command = app.add_subcommand(
      "bench-op", "Time one op config (or a suite) with the timing protocol and store the measurement");
  command->add_option("op", options->words, "OP key=value ... (see --list)");
  command->add_flag("--list", options->list, "list every op with its keys, defaults and ranges");
  command->add_option("--suite", options->suite,
                      "time a shape suite instead of one op: backbone (core ops), mixers (token "
                      "mixers), layers (MLPs, "
                      "stems, downsampling)");
  command->add_flag("--json", options->json, "print JSON (one object; an array for a suite)");
  command->add_option("--policy", options->policy, "timing policy: default or quick")->capture_default_str();
  command->add_option("--seed", options->seed, "seed of the random inputs")->capture_default_str();
  add_threads_option(*command, options->common);
  add_db_option(*command, options->common);
  command->callback([options] { run(*options); });
}

}  // namespace hwnas::cli
