// hwnas search [--space FILE] [--objectives quality,latency] [--latency measured|lut]
//   [--latency-budget 20ms] [--params-budget 30M] [--population P] [--generations G] [--batch B]
//   [--res R] [--threads N] [--seed S] [--db FILE] [--resume RUN] [--json] ...
//
// NSGA-II over a search space (search/search_loop.hpp), latency measured on this device or
// predicted from the lookup table (apps/latency_evaluators.hpp), quality from the NASWOT proxy on
// the supernet's shared weights (search/naswot.hpp), both cached in the store; each generation is
// committed as it completes, so `--resume RUN` continues a killed search from its last one.
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "apps/latency_evaluators.hpp"
#include "apps/quality_cache.hpp"
#include "apps/quantity.hpp"
#include "apps/search_store.hpp"
#include "bench/drift.hpp"
#include "bench/log.hpp"
#include "kernels/error.hpp"
#include "search/naswot.hpp"
#include "search/search_loop.hpp"

namespace hwnas::cli {
namespace {

// Every flag that defines what a search computes. A resumed search takes them from its run, so
// none of them may be given with --resume.
struct SearchSettings {
  std::string space_path;
  std::string objectives = "quality,latency";
  std::string latency = "measured";
  std::string latency_budget;  // "20ms"; empty = none
  std::string params_budget;   // "30M"; empty = none
  // About 500 candidates: ~10 minutes on this 2-core machine at ~1 s per new candidate (build,
  // time, score; bench/RESULTS.md "Search").
  int population = 24;
  int generations = 20;
  double mutation_p = 0.15;
  double crossover_p = 0.9;
  int early_stop = 0;
  std::int64_t batch = 1;
  std::int64_t resolution = 224;
  std::uint64_t seed = 1;
  std::int64_t proxy_batch = 16;  // ranks like 32 (Kendall tau 1.0 on 15 subnets) at half the cost
  std::string policy = "default";
};

struct SearchOptions {
  CommonOptions common;
  SearchSettings settings;
  std::optional<std::int64_t> resume;
  bool json = false;
  std::vector<std::string> given;  // the settings flags the user typed
};

std::string default_space_path() {
  return (std::filesystem::path(HWNAS_SOURCE_DIR) / "supernet" / "spaces" / "default.json")
      .string();
}

std::uint64_t fnv1a64(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

SearchConfig to_config(const SearchSettings& s) {
  SearchConfig config{.objectives = split_list(s.objectives),
                      .population = s.population,
                      .generations = s.generations,
                      .mutation_p = s.mutation_p,
                      .crossover_p = s.crossover_p,
                      .seed = s.seed,
                      .resolution = s.resolution,
                      .early_stop_generations = s.early_stop};
  if (!s.latency_budget.empty())
    config.latency_budget_ms = parse_milliseconds(s.latency_budget, "--latency-budget");
  if (!s.params_budget.empty())
    config.params_budget = parse_count(s.params_budget, "--params-budget");
  check(config);
  return config;
}

nlohmann::json to_json(const SearchSettings& s, const std::string& space_json, int threads) {
  return {{"space", s.space_path},
          {"space_json", nlohmann::json::parse(space_json)},
          {"objectives", s.objectives},
          {"latency", s.latency},
          {"latency_budget", s.latency_budget},
          {"params_budget", s.params_budget},
          {"population", s.population},
          {"generations", s.generations},
          {"mutation_p", s.mutation_p},
          {"crossover_p", s.crossover_p},
          {"early_stop", s.early_stop},
          {"batch", s.batch},
          {"res", s.resolution},
          {"threads", threads},
          {"seed", s.seed},
          {"proxy_batch", s.proxy_batch},
          {"policy", s.policy}};
}

SearchSettings settings_from_run(const nlohmann::json& j) {
  SearchSettings s;
  s.space_path = j.at("space").get<std::string>();
  s.objectives = j.at("objectives").get<std::string>();
  s.latency = j.at("latency").get<std::string>();
  s.latency_budget = j.at("latency_budget").get<std::string>();
  s.params_budget = j.at("params_budget").get<std::string>();
  s.population = j.at("population").get<int>();
  s.generations = j.at("generations").get<int>();
  s.mutation_p = j.at("mutation_p").get<double>();
  s.crossover_p = j.at("crossover_p").get<double>();
  s.early_stop = j.at("early_stop").get<int>();
  s.batch = j.at("batch").get<std::int64_t>();
  s.resolution = j.at("res").get<std::int64_t>();
  s.seed = j.at("seed").get<std::uint64_t>();
  s.proxy_batch = j.at("proxy_batch").get<std::int64_t>();
  s.policy = j.at("policy").get<std::string>();
  return s;
}

void check_settings(const SearchSettings& s) {
  if (s.latency != "measured" && s.latency != "lut") {
    throw InvalidArgument(
        fmt::format("search: --latency {} is not one of measured, lut", s.latency));
  }
  if (s.policy != "default" && s.policy != "quick") {
    throw InvalidArgument(fmt::format("search: --policy {} is not one of default, quick", s.policy));
  }
  if (s.batch < 1) throw InvalidArgument(fmt::format("search: --batch {} must be >= 1", s.batch));
  if (s.proxy_batch < 2) {
    throw InvalidArgument(
        fmt::format("search: --proxy-batch {} must be >= 2 (NASWOT compares images)", s.proxy_batch));
  }
}

// "64x2 dwconv,window_attention | 128x2 ... " : widths, depths and mixers per stage.
std::string summary(const Arch& arch) {
  std::vector<std::string> stages;
  for (const StageSpec& stage : arch.stages) {
    std::vector<std::string> mixers;
    for (const BlockSpec& block : stage.blocks) {
      for (const UnitSpec& unit : block.units) {
        for (const UnitOp& op : unit.ops) {
          if (op.mixer) mixers.push_back(op.mixer->name);
        }
      }
    }
    stages.push_back(fmt::format("{}x{} {}", stage.width, stage.blocks.size(), fmt::join(mixers, ",")));
  }
  return fmt::format("{}", fmt::join(stages, " | "));
}

nlohmann::json nullable(double value) {
  return std::isfinite(value) ? nlohmann::json(value) : nlohmann::json(nullptr);
}

nlohmann::json front_json(const SearchResult& result, std::int64_t run_id) {
  nlohmann::json front = nlohmann::json::array();
  for (const Candidate& c : result.front) {
    front.push_back({{"run_id", run_id},
                     {"arch_hash", c.hash},
                     {"arch", nlohmann::json::parse(to_json(c.arch))},
                     {"latency_ms", c.obj.latency_ms},
                     {"latency_source", c.obj.latency_source},
                     {"predicted_ms", nullable(c.obj.predicted_ms)},
                     {"quality", c.obj.quality},
                     {"quality_source", c.obj.quality_source},
                     {"params", c.obj.params},
                     {"flops", c.obj.flops},
                     {"violation", c.violation},
                     {"summary", summary(c.arch)}});
  }
  return front;
}

void print_front(const SearchResult& result, std::int64_t run_id) {
  fmt::print("Pareto front of run {} ({} architectures; quality is the NASWOT proxy, not accuracy):\n",
             run_id, result.front.size());
  fmt::print("{:>3}  {:<16} {:>10} {:<8} {:>9} {:>9} {:>7}  {}\n", "#", "arch_hash", "latency_ms",
             "source", "quality", "params_M", "GFLOPs", "stages (width x depth mixers)");
  for (std::size_t i = 0; i < result.front.size(); ++i) {
    const Candidate& c = result.front[i];
    fmt::print("{:>3}  {:<16} {:>10.3f} {:<8} {:>9.2f} {:>9.2f} {:>7.2f}  {}{}\n", i, c.hash,
               c.obj.latency_ms, c.obj.latency_source, c.obj.quality, c.obj.params / 1e6,
               c.obj.flops / 1e9, summary(c.arch), c.violation > 0 ? "  (over budget)" : "");
  }
  fmt::print("the architectures: hwnas bench <arch.json> after `sqlite3 DB \"select canonical_json "
             "from archs where hash='<hash>'\" > arch.json`, or hwnas search ... --json\n");
}

void run(const SearchOptions& options) {
  SearchSettings settings = options.settings;
  // Open and check the store first only when resuming: the run's settings decide everything.
  std::optional<RunRow> resumed_row;
  if (options.resume) {
    if (!options.given.empty()) {
      throw InvalidArgument(fmt::format(
          "search: --resume {} continues the run with its own settings; drop {}", *options.resume,
          fmt::join(options.given, ", ")));
    }
    if (!std::filesystem::exists(options.common.db)) {
      throw InvalidArgument(fmt::format("search: --resume {}: no database at {}", *options.resume,
                                        options.common.db));
    }
  }
  Store store = Store::open(options.common.db);
  std::string space_json;
  if (options.resume) {
    const std::optional<RunRow> row = store.run(*options.resume);
    if (!row || row->kind != "search") {
      throw InvalidArgument(fmt::format("search: --resume {}: {}", *options.resume,
                                        row ? fmt::format("run {} is a {} run, not a search",
                                                          row->id, row->kind)
                                            : fmt::format("no run {} in {}", *options.resume,
                                                          options.common.db)));
    }
    const nlohmann::json config = nlohmann::json::parse(row->config_json);
    settings = settings_from_run(config);
    space_json = config.at("space_json").dump();
    if (options.common.threads && *options.common.threads != config.at("threads").get<int>()) {
      throw InvalidArgument(fmt::format("search: --resume {} ran with --threads {}, not {}",
                                        *options.resume, config.at("threads").get<int>(),
                                        *options.common.threads));
    }
  }
  check_settings(settings);
  const SearchConfig config = to_config(settings);
  const SearchSpace space = space_json.empty()
                                ? load_search_space_file(settings.space_path)
                                : parse_search_space(space_json, settings.space_path);
  if (std::find(space.resolutions.begin(), space.resolutions.end(), settings.resolution) ==
      space.resolutions.end()) {
    throw InvalidArgument(fmt::format("search: --res {} is not a resolution of {} ({})",
                                      settings.resolution, settings.space_path,
                                      fmt::join(space.resolutions, ", ")));
  }
  if (space_json.empty()) space_json = to_json(space);

  CommonOptions common = options.common;
  if (options.resume) {
    common.threads = nlohmann::json::parse(store.run(*options.resume)->config_json)
                         .at("threads")
                         .get<int>();
  }
  const Engine engine = make_engine(common);
  const int threads = engine.threads();
  const DeviceContext device = register_device(store, engine);
  std::optional<RunScope> scope;
  if (options.resume) {
    scope.emplace(store, RunScope::Resume{.run_id = *options.resume, .kind = "search"});
  } else {
    scope.emplace(store, RunRow{.kind = "search",
                                .device_id = device.device_id,
                                .config_json = to_json(settings, space_json, threads).dump(),
                                .code_version = device.fingerprint.code_version,
                                .software_json = software_json(device.fingerprint)});
  }
  const std::int64_t run_id = scope->id();
  const std::optional<ResumePoint> resume =
      options.resume ? load_resume_point(store, run_id) : std::nullopt;
  if (options.resume) {
    log::info("search", "resuming run {} after generation {}", run_id,
              resume ? resume->completed_generation : -1);
  }

  const MeasurePolicy policy =
      settings.policy == "quick" ? MeasurePolicy::quick() : MeasurePolicy{};
  const LatencyOptions latency_options{.device_id = device.device_id,
                                       .run_id = run_id,
                                       .batch = settings.batch,
                                       .resolution = settings.resolution,
                                       .policy = policy,
                                       .seed = settings.seed};
  std::unique_ptr<LatencyEvaluator> latency;
  if (settings.latency == "lut") {
    latency = std::make_unique<LutLatency>(engine, store, latency_options);
  } else {
    latency = std::make_unique<MeasuredLatency>(engine, store, latency_options);
  }
  const NaswotSetup naswot_setup{.resolution = settings.resolution,
                                 .batch = settings.proxy_batch,
                                 .seed = settings.seed};
  log::info("search", "space {} ({} architectures); shared weights and {} proxy images ({})",
            settings.space_path, space_size(space), settings.proxy_batch, config_key(naswot_setup));
  const WeightStore shared = make_shared_weights(space, settings.seed);
  NaswotEvaluator naswot(engine, space, shared, load_proxy_batch(naswot_setup, space.in_chans),
                         settings.resolution);
  // A slice's values depend on the largest shapes of the space it was declared for, so a score is
  // only reused under the same space.
  CachedQuality quality(naswot, store,
                        fmt::format("{},space={:016x}", config_key(naswot_setup), fnv1a64(space_json)));

  const bool tty = isatty(fileno(stderr)) != 0;
  StoreSearchObserver observer(store, run_id,
                               {.tty = tty,
                                .generations = settings.generations,
                                .population = settings.population},
                               resume ? resume->completed_generation + 1 : 0);
  DriftMonitor drift = DriftMonitor::start(policy);
  const SearchResult result = run_search(space, config, *latency, quality, observer, resume);
  store.set_front(run_id, front_rows(run_id, result.front));
  const DriftCheck check = drift.finish();
  if (check.drifted) {
    log::warn("search",
              "the reference kernel changed by {:+.1f}% during this search: the machine's speed "
              "drifted; run {} is marked drifted",
              100 * check.relative_change, run_id);
  }
  scope->finish(RunStatus::Finished,
                RunDrift{.rel = check.relative_change, .drifted = check.drifted});
  if (result.early_stopped) {
    log::info("search", "stopped early after generation {}: the hypervolume stopped improving",
              result.generations_run);
  }
  if (options.json) {
    fmt::print("{}\n", front_json(result, run_id).dump(2));
  } else {
    print_front(result, run_id);
  }
}

}  // namespace

void add_search_command(CLI::App& app) {
  auto options = std::make_shared<SearchOptions>();
  SearchSettings& s = options->settings;
  s.space_path = default_space_path();
  CLI::App* command = app.add_subcommand(
      "search",
      "NSGA-II over a search space, scored by latency on this device and the NASWOT quality proxy; "
      "stores every generation and the Pareto front");
  // The settings flags, remembered by name so --resume can refuse them.
  std::vector<CLI::Option*> settings_flags = {
      command->add_option("--space", s.space_path, "search space JSON")->capture_default_str(),
      command->add_option("--objectives", s.objectives,
                          "comma-separated, of quality (max), latency, params, flops (min); one "
                          "objective = best of it under the budgets")
          ->capture_default_str(),
      command->add_option("--latency", s.latency,
                          "measured (end to end on this device) or lut (sum of per-layer latencies, "
                          "calibrated; the front is measured)")
          ->capture_default_str(),
      command->add_option("--latency-budget", s.latency_budget, "e.g. 20ms (a constraint)"),
      command->add_option("--params-budget", s.params_budget, "e.g. 30M (a constraint)"),
      command->add_option("--population", s.population)->capture_default_str(),
      command->add_option("--generations", s.generations, "offspring generations after the first")
          ->capture_default_str(),
      command->add_option("--mutation-p", s.mutation_p, "per-choice resample probability")
          ->capture_default_str(),
      command->add_option("--crossover-p", s.crossover_p)->capture_default_str(),
      command->add_option("--early-stop", s.early_stop,
                          "stop when the hypervolume has not improved for K generations (0 = off)")
          ->capture_default_str(),
      command->add_option("--batch", s.batch, "images per forward of the latency")
          ->capture_default_str(),
      command->add_option("--res", s.resolution, "input resolution (one of the space's)")
          ->capture_default_str(),
      command->add_option("--seed", s.seed, "of the search, the shared weights and the timed inputs")
          ->capture_default_str(),
      command->add_option("--proxy-batch", s.proxy_batch, "Fashion-MNIST images NASWOT scores on")
          ->capture_default_str(),
      command->add_option("--policy", s.policy, "timing policy: default or quick")
          ->capture_default_str(),
  };
  command->add_option("--resume", options->resume,
                      "continue a killed or failed search run from its last completed generation");
  command->add_flag("--json", options->json, "print the final Pareto front as a JSON array");
  add_threads_option(*command, options->common);
  add_db_option(*command, options->common);
  command->callback([options, command, settings_flags] {
    options->given.clear();
    for (const CLI::Option* flag : settings_flags) {
      if (flag->count() > 0) options->given.push_back(flag->get_name());
    }
    (void)command;
    run(*options);
  });
}

}  // namespace hwnas::cli
