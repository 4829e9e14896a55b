// hwnas bench ARCH_OR_CATALOG_NAME [--batch B] [--res R] [--threads N] [--db FILE] [--json]
// [--layers]
//   [--seed S] [--weights FILE.safetensors] [--policy default|quick] [--throughput]
#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>

#include "apps/arch_measurement.hpp"
#include "apps/arch_source.hpp"
#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "apps/measurement_output.hpp"
#include "apps/roofline_cache.hpp"
#include "bench/arch_timing.hpp"
#include "bench/drift.hpp"
#include "bench/log.hpp"
#include "bench/roofline.hpp"
#include "kernels/error.hpp"

namespace hwnas::cli {
namespace {

struct BenchOptions {
  CommonOptions common;
  std::string arch;  // a path or a catalog name
  std::int64_t batch = 1;
  std::int64_t resolution = 224;
  std::uint64_t seed = 1;
  std::string weights;
  bool json = false;
  bool layers = false;
  bool throughput = false;
  std::string policy = "default";
};

std::string repro_command(const BenchOptions& o, int threads) {
  std::string command = fmt::format("hwnas bench {} --batch {} --res {} --threads {}", o.arch,
                                    o.batch, o.resolution, threads);
  if (!o.weights.empty()) command += fmt::format(" --weights {}", o.weights);
  return command;
}

LayerTimeRow to_row(const LayerTiming& layer, std::size_t idx, std::int64_t measurement_id) {
  const SampleStats& s = layer.measurement.stats;
  return {.measurement_id = measurement_id,
          .idx = static_cast<std::int64_t>(idx),
          .name = layer.info.name,
          .kind = layer.info.kind,
          .key = layer.info.key,
          .flops = layer.info.cost.flops,
          .bytes = layer.info.cost.bytes,
          .params = static_cast<double>(layer.info.cost.params),
          .min_ms = s.min.count(),
          .p10_ms = s.p10.count(),
          .median_ms = s.median.count(),
          .p90_ms = s.p90.count(),
          .mean_ms = s.mean.count(),
          .cv = s.cv,
          .share = layer.share,
          .n = s.n,
          .inner_repeats = layer.measurement.repeats,
          .samples_ms = layer.measurement.samples_ms};
}

struct Summary {
  double gflops = 0;
  double images_per_s = 0;
  std::optional<double> peak_gflops;  // from a roofline stored by `hwnas device --roofline`
};

nlohmann::json to_json(const PreparedArch& p, const ArchTiming& t, const Summary& sum,
                       const BenchOptions& o, int threads, std::int64_t run_id,
                       std::int64_t measurement_id) {
  nlohmann::json j = statistics_json(t.measurement);
  j.update({{"name", p.arch.name},
            {"arch_hash", p.hash},
            {"key", p.key},
            {"batch", o.batch},
            {"res", o.resolution},
            {"threads", threads},
            {"params", p.params},
            {"flops", p.flops},
            {"flops_per_image", p.flops / static_cast<double>(o.batch)},
            {"bytes", p.bytes},
            {"gflops", sum.gflops},
            {"images_per_s", sum.images_per_s},
            {"run_id", run_id},
            {"measurement_id", measurement_id},
            {"repro", repro_command(o, threads)}});
  if (sum.peak_gflops) {
    j["peak_gflops"] = *sum.peak_gflops;
    j["peak_fraction"] = sum.gflops / *sum.peak_gflops;
  }
  if (o.layers) {
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerTiming& layer : t.layers) {
      const SampleStats& ls = layer.measurement.stats;
      layers.push_back({{"name", layer.info.name},
                        {"kind", layer.info.kind},
                        {"key", layer.info.key},
                        {"median_ms", ls.median.count()},
                        {"p10_ms", ls.p10.count()},
                        {"p90_ms", ls.p90.count()},
                        {"cv", ls.cv},
                        {"share", layer.share},
                        {"flops", layer.info.cost.flops},
                        {"params", layer.info.cost.params},
                        {"gflops", achieved_gflops(layer.info.cost.flops, ls.median)}});
    }
    j["layers"] = std::move(layers);
  }
  return j;
}

void print_summary(const PreparedArch& p, const ArchTiming& t, const Summary& sum,
                   const BenchOptions& o, int threads) {
  const SampleStats& s = t.measurement.stats;
  std::string peak;
  if (sum.peak_gflops)
    peak = fmt::format(" ({:.0f}% of peak)", 100 * sum.gflops / *sum.peak_gflops);
  std::string throughput;
  if (o.throughput) throughput = fmt::format("  {:.1f} images/s", sum.images_per_s);
  fmt::print(
      "{} [{}] batch {} res {} threads {}: {:.3f} ms [p10 {:.3f}, p90 {:.3f}] cv {:.1f}% n {}  "
      "{:.2f} M params  {:.3f} GFLOP  {:.1f} GFLOP/s{}{}\n",
      p.arch.name, p.hash, o.batch, o.resolution, threads, s.median.count(), s.p10.count(),
      s.p90.count(), 100 * s.cv, s.n, p.params / 1e6, p.flops / 1e9, sum.gflops, peak, throughput);
}

void print_layers(const ArchTiming& t, Milliseconds forward) {
  fmt::print("{:>4}  {:<32} {:<10} {:>10} {:>7} {:>9} {:>9}  {}\n", "idx", "layer", "kind",
             "median_ms", "share", "MFLOP", "GFLOP/s", "key");
  std::map<std::string, std::pair<double, double>> by_kind;  // kind -> (ms, flops)
  double sum_ms = 0;
  for (std::size_t i = 0; i < t.layers.size(); ++i) {
    const LayerTiming& l = t.layers[i];
    const Milliseconds median = l.measurement.stats.median;
    fmt::print("{:>4}  {:<32} {:<10} {:>10.4f} {:>6.1f}% {:>9.2f} {:>9.1f}  {}\n", i, l.info.name,
               l.info.kind, median.count(), 100 * l.share, l.info.cost.flops / 1e6,
               achieved_gflops(l.info.cost.flops, median), l.info.key);
    by_kind[l.info.kind].first += median.count();
    by_kind[l.info.kind].second += l.info.cost.flops;
    sum_ms += median.count();
  }
  fmt::print("by kind:");
  for (const auto& [kind, totals] : by_kind) {
    fmt::print("  {} {:.3f} ms ({:.1f}%, {:.1f} GFLOP/s)", kind, totals.first,
               sum_ms > 0 ? 100 * totals.first / sum_ms : 0.0,
               achieved_gflops(totals.second, Milliseconds(totals.first)));
  }
  fmt::print("\nlayers alone sum to {:.3f} ms; the whole forward took {:.3f} ms\n", sum_ms,
             forward.count());
}

void run(const BenchOptions& options) {
  if (options.policy != "default" && options.policy != "quick") {
    throw InvalidArgument(
        fmt::format("bench: --policy {} is not one of default, quick", options.policy));
  }
  const MeasurePolicy policy = options.policy == "quick" ? MeasurePolicy::quick() : MeasurePolicy{};

  // The arch is read, validated and built before the store is touched: bad input writes nothing.
  const ArchSource source = [&] {
    try {
      return resolve_arch(options.arch);
    } catch (const InvalidArgument& e) {
      throw InvalidArgument(fmt::format("bench: {}", e.what()));
    }
  }();
  const Engine engine = make_engine(options.common);
  const ArchBenchOptions bench_options{.batch = options.batch,
                                       .resolution = options.resolution,
                                       .seed = options.seed,
                                       .weights_path = options.weights};
  std::optional<PreparedArch> prepared;
  try {
    prepared.emplace(prepare_arch(engine, source.arch, bench_options));
  } catch (const InvalidArgument& e) {
    throw InvalidArgument(fmt::format("bench: {} at --batch {} --res {}: {}", source.path,
                                      options.batch, options.resolution, e.what()));
  }
  PreparedArch& p = *prepared;

  Store store = Store::open(options.common.db);
  const DeviceContext device = register_device(store, engine);
  const int threads = engine.threads();
  store.upsert_arch({.hash = p.hash, .canonical_json = to_json(p.arch), .name = p.arch.name});
  const nlohmann::json config = {
      {"arch", options.arch},     {"path", source.path},       {"arch_hash", p.hash},
      {"batch", options.batch},   {"res", options.resolution}, {"threads", threads},
      {"policy", options.policy}, {"seed", options.seed},      {"weights", options.weights},
      {"layers", options.layers}, {"ci_rel", policy.ci_rel}};
  RunScope run_scope(store, {.kind = "bench",
                             .device_id = device.device_id,
                             .config_json = config.dump(),
                             .code_version = device.fingerprint.code_version,
                             .software_json = software_json(device.fingerprint)});
  log::info("bench", "arch={} hash={} batch={} res={} params={:.0f} flops={:.4g} layers={}",
            p.arch.name, p.hash, options.batch, options.resolution, p.params, p.flops,
            p.net.layers().size());
  // A per-layer breakdown is a long run of many measurements: bracket it with a drift check.
  std::optional<DriftMonitor> drift;
  if (options.layers) drift = DriftMonitor::start(policy);

  const bool tty = isatty(fileno(stderr)) != 0;
  const ArchProgress progress = [tty](std::string_view what, std::size_t index, std::size_t count,
                                      const MeasureProgress& m) {
    if (!tty) return;
    fmt::print(stderr, "\r[bench] {}/{} {} {} samples={} median={:.4f} ms\033[K", index + 1, count,
               what, m.phase == MeasureProgress::Phase::Warmup ? "warm-up" : "timing", m.samples,
               m.median.count());
  };
  const ArchTiming timing =
      time_arch(p, policy, options.layers ? LayerTimes::Each : LayerTimes::None, progress);
  if (tty) fmt::print(stderr, "\r\033[K");

  const Milliseconds median = timing.measurement.stats.median;
  Summary summary{.gflops = achieved_gflops(p.flops, median),
                  .images_per_s = static_cast<double>(options.batch) / (median.count() / 1e3)};
  if (const std::optional<Roofline> roofline = stored_roofline(store, device)) {
    summary.peak_gflops = roofline->peak_gflops;
  }
  const std::int64_t measurement_id = store.add_measurement(arch_measurement_row(
      p, timing.measurement, run_scope.id(), threads, repro_command(options, threads)));
  if (options.layers) {
    std::vector<LayerTimeRow> rows;
    for (std::size_t i = 0; i < timing.layers.size(); ++i) {
      rows.push_back(to_row(timing.layers[i], i, measurement_id));
    }
    store.add_layer_times(rows);
  }
  warn_if_contended("bench", p.key, timing.measurement);
  log::info("bench", "key={} median_ms={:.4f} cv={:.3f} n={} gflops={:.1f}", p.key, median.count(),
            timing.measurement.stats.cv, timing.measurement.stats.n, summary.gflops);
  std::optional<RunDrift> run_drift;
  if (drift) {
    const DriftCheck check = drift->finish();
    run_drift = RunDrift{.rel = check.relative_change, .drifted = check.drifted};
    if (check.drifted) {
      log::warn(
          "bench",
          "the reference kernel changed by {:+.1f}% during this run: the machine's speed drifted; "
          "run {} is marked drifted",
          100 * check.relative_change, run_scope.id());
    }
  }
  run_scope.finish(RunStatus::Finished, run_drift);

  if (options.json) {
    fmt::print(
        "{}\n",
        to_json(p, timing, summary, options, threads, run_scope.id(), measurement_id).dump(2));
    return;
  }
  print_summary(p, timing, summary, options, threads);
  if (options.layers) print_layers(timing, median);
}

}  // namespace

void add_bench_command(CLI::App& app) {
  auto options = std::make_shared<BenchOptions>();
  CLI::App* command = app.add_subcommand(
      "bench",
      "Time a whole architecture (an Arch JSON file or a catalog name) end to end, and store it");
  command
      ->add_option("arch", options->arch,
                   "an Arch JSON file, or a catalog name (swin_t, convnext_t, ...)")
      ->required();
  command->add_option("--batch", options->batch, "images per forward")->capture_default_str();
  command->add_option("--res", options->resolution, "input resolution (square)")
      ->capture_default_str();
  command->add_flag("--json", options->json, "print one JSON object");
  command->add_flag("--layers", options->layers,
                    "also time every layer alone and store the breakdown");
  command->add_flag("--throughput", options->throughput,
                    "also print images/s at --batch (always in --json)");
  command->add_option("--seed", options->seed, "seed of the random weights and images")
      ->capture_default_str();
  command->add_option(
      "--weights", options->weights,
      "load the weights from this safetensors file (names as docs/arch.md) instead");
  command->add_option("--policy", options->policy, "timing policy: default or quick")
      ->capture_default_str();
  add_threads_option(*command, options->common);
  add_db_option(*command, options->common);
  command->callback([options] { run(*options); });
}

}  // namespace hwnas::cli
