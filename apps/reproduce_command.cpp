// hwnas reproduce [--claims FILE] [--only ID...] [--threads N] [--db FILE] [--rounds R]
//   [--policy default|quick] [--tolerance T] [--json] [-o FILE.md]
//
// Every claim of the ledger is planned (bench/claims.hpp); the models of the measurable ones are
// prepared once per thread count and timed interleaved (bench/interleaved.hpp), every measurement
// stored as an Arch measurement of one run of kind "reproduce", and each claim's result stored in
// claim_results. A claim's stated thread count wins over --threads, which applies to the rest.
#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <set>

#include "apps/arch_measurement.hpp"
#include "apps/arch_source.hpp"
#include "apps/claim_output.hpp"
#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "bench/arch_timing.hpp"
#include "bench/build_info.hpp"
#include "bench/claims.hpp"
#include "bench/interleaved.hpp"
#include "bench/log.hpp"
#include "kernels/error.hpp"
#include "reports/report.hpp"

namespace hwnas::cli {
namespace {

struct ReproduceOptions {
  CommonOptions common;
  std::string claims;
  std::vector<std::string> only;
  int rounds = 10;
  std::string policy = "default";
  double tolerance = kDefaultTolerance;
  bool json = false;
  std::string output;
};

// The ledger's own claims named by --only, and the ratios derived from them.
std::vector<ClaimPlan> select(std::vector<ClaimPlan> plans, const std::vector<std::string>& only) {
  if (only.empty()) return plans;
  std::vector<ClaimPlan> kept;
  std::set<std::string> matched;
  for (ClaimPlan& p : plans) {
    bool keep = false;
    for (const std::string& id : only) {
      const std::string::size_type slash = p.id.find('/');
      if (p.id == id || (slash != std::string::npos &&
                         (p.id.substr(0, slash) == id || p.id.substr(slash + 1) == id))) {
        keep = true;
        matched.insert(id);
      }
    }
    if (keep) kept.push_back(std::move(p));
  }
  for (const std::string& id : only) {
    if (!matched.contains(id))
      throw InvalidArgument(fmt::format("reproduce: --only {}: no such claim in the ledger", id));
  }
  return kept;
}

// One model as measured: what it was prepared as, or why it could not be.
struct Prepared {
  ModelSetup setup;
  std::optional<PreparedArch> arch;
  std::string error;
  std::size_t column = 0;  // its index among the session's measured workloads
};

struct Session {
  int threads = 1;
  std::unique_ptr<Engine> engine;
  std::vector<Prepared> models;
  InterleavedResult result;
  std::vector<std::int64_t> measurement_ids;
};

// A claim's per-round values: the speed ratio of its two models, or the one model's img/s or ms.
std::vector<double> per_round(const ClaimPlan& plan, const Session& s,
                              const std::vector<std::size_t>& index) {
  std::vector<double> values;
  for (std::size_t r = 0; r < s.result.rounds.size(); ++r) {
    const auto speed = [&](std::size_t i) {
      return static_cast<double>(plan.setups[i].batch) * 1e3 / s.result.median_ms(r, index[i]);
    };
    if (plan.kind == PlanKind::Ratio) {
      values.push_back(speed(0) / speed(1));
    } else {
      values.push_back(plan.unit == "ms" ? s.result.median_ms(r, index[0]) : speed(0));
    }
  }
  return values;
}

enum class OutputKind { None, Markdown, Html, Csv };

// -o by extension: .md the claims table alone; .html / .csv the whole report of this run (its
// claims section, the device and whatever else the store holds for it).
OutputKind output_kind(const std::string& path) {
  if (path.empty()) return OutputKind::None;
  const std::string ext = std::filesystem::path(path).extension().string();
  if (ext == ".md" || ext == ".markdown") return OutputKind::Markdown;
  if (ext == ".html" || ext == ".htm") return OutputKind::Html;
  if (ext == ".csv") return OutputKind::Csv;
  throw InvalidArgument(fmt::format(
      "reproduce: cannot tell the format of -o {} from its extension '{}'; use .html, .md or .csv",
      path, ext));
}

std::string now_utc() {
  return fmt::format("{:%Y-%m-%dT%H:%M:%SZ}",
                     std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()));
}

ClaimResultRow result_row(const ClaimPlan& p, std::int64_t run_id, double tolerance) {
  nlohmann::json setups = nlohmann::json::array();
  for (const ModelSetup& m : p.setups) {
    setups.push_back(
        {{"model", m.model}, {"batch", m.batch}, {"res", m.resolution}, {"threads", m.threads}});
  }
  return {.run_id = run_id,
          .claim_id = p.id,
          .kind = p.kind == PlanKind::Ratio ? "ratio" : "absolute",
          .statement = p.statement,
          .models = p.models,
          .setups_json = setups.dump(),
          .metric = p.metric,
          .unit = p.unit,
          .device = p.device,
          .device_class = p.device_class,
          .claimed = p.claimed,
          .tolerance = tolerance,
          .verdict = p.verdict ? std::string(to_string(*p.verdict)) : "not_measurable",
          .reason = p.reason};
}

void run(const ReproduceOptions& o) {
  if (o.policy != "default" && o.policy != "quick") {
    throw InvalidArgument(
        fmt::format("reproduce: --policy {} is not one of default, quick", o.policy));
  }
  if (o.rounds < 1)
    throw InvalidArgument(fmt::format("reproduce: --rounds {} must be >= 1", o.rounds));
  if (!(o.tolerance >= 0))
    throw InvalidArgument(fmt::format("reproduce: --tolerance {} must be >= 0", o.tolerance));
  const OutputKind output = output_kind(o.output);
  const std::string path = o.claims.empty() ? default_claims_path() : o.claims;
  const ClaimsLedger ledger = [&] {
    try {
      return load_claims_file(path);
    } catch (const IoError& e) {
      throw InvalidArgument(fmt::format("reproduce: --claims: {}", e.what()));
    }
  }();
  std::vector<ClaimPlan> plans = select(
      plan_claims(ledger,
                  {.catalog = catalog_names(catalog_dir()), .device_class = this_device_class()}),
      o.only);

  const Engine engine = make_engine(o.common);
  const int run_threads = engine.threads();
  for (ClaimPlan& p : plans) {
    for (ModelSetup& m : p.setups) {
      if (m.threads == 0) m.threads = run_threads;
    }
  }
  // Sessions: one engine per thread count; in each, every distinct setup prepared once.
  // Keyed by (threads, batch): a round then holds only workloads of like duration, so the models
  // of one claim are measured seconds apart, not a whole round of slow batch-16 forwards apart.
  std::map<std::pair<int, std::int64_t>, Session> sessions;
  for (const ClaimPlan& p : plans) {
    for (const ModelSetup& m : p.setups) {
      Session& s = sessions[{m.threads, m.batch}];
      s.threads = m.threads;
      if (std::none_of(s.models.begin(), s.models.end(),
                       [&](const Prepared& x) { return x.setup == m; })) {
        s.models.push_back({.setup = m});
      }
    }
  }
  for (auto& [key, s] : sessions) {
    s.engine = std::make_unique<Engine>(Engine::cpu({.threads = s.threads}));
    for (Prepared& m : s.models) {
      try {
        const ArchSource source = resolve_arch(m.setup.model);
        m.arch.emplace(prepare_arch(*s.engine, source.arch,
                                    {.batch = m.setup.batch, .resolution = m.setup.resolution}));
      } catch (const InvalidArgument& e) {
        m.error = e.what();  // the claims using it are not measurable; the others go on
      }
    }
  }

  Store store = Store::open(o.common.db);
  const DeviceContext device = register_device(store, engine);
  const MeasurePolicy policy = o.policy == "quick" ? MeasurePolicy::quick() : round_policy();
  const nlohmann::json config = {{"claims", path},
                                 {"only", o.only},
                                 {"rounds", o.rounds},
                                 {"policy", o.policy},
                                 {"threads", run_threads},
                                 {"tolerance", o.tolerance},
                                 {"claims_count", plans.size()}};
  RunScope run_scope(store, {.kind = "reproduce",
                             .device_id = device.device_id,
                             .config_json = config.dump(),
                             .code_version = device.fingerprint.code_version,
                             .software_json = software_json(device.fingerprint)});
  const bool tty = isatty(fileno(stderr)) != 0;
  std::size_t session_no = 0;
  for (auto& [key, s] : sessions) {
    const int threads = s.threads;
    ++session_no;
    std::vector<std::function<void()>> workloads;
    std::vector<Prepared*> measured;
    for (Prepared& m : s.models) {
      if (!m.arch) continue;
      PreparedArch* p = &*m.arch;
      store.upsert_arch(
          {.hash = p->hash, .canonical_json = to_json(p->arch), .name = p->arch.name});
      workloads.push_back([p] { p->net.forward(p->images.cview(), p->logits.view()); });
      m.column = measured.size();
      measured.push_back(&m);
    }
    if (workloads.empty()) continue;
    log::info("reproduce", "session={}/{} threads={} models={} rounds={}", session_no,
              sessions.size(), threads, workloads.size(), o.rounds);
    const auto on_measurement = [&](int round, std::size_t w, const Measurement& m) {
      const PreparedArch& p = *measured[w]->arch;
      const std::string repro =
          fmt::format("hwnas bench {} --batch {} --res {} --threads {}", p.arch.name,
                      p.options.batch, p.options.resolution, threads);
      store.add_measurement(arch_measurement_row(p, m, run_scope.id(), threads, repro));
      if (tty) {
        fmt::print(stderr, "\r[reproduce] threads {} round {}/{} {} ({}/{}) {:.3f} ms\033[K",
                   threads, round + 1, o.rounds, p.arch.name, w + 1, workloads.size(),
                   m.stats.median.count());
      }
    };
    s.result =
        measure_interleaved(workloads, {.rounds = o.rounds, .policy = policy}, on_measurement);
    if (tty) fmt::print(stderr, "\r\033[K");
  }

  std::vector<ClaimResultRow> rows;
  for (ClaimPlan& p : plans) {
    ClaimResultRow row = result_row(p, run_scope.id(), o.tolerance);
    if (!p.setups.empty()) {
      const Session& s = sessions.at({p.setups.front().threads, p.setups.front().batch});
      std::vector<std::size_t> index;
      std::string error;
      for (const ModelSetup& m : p.setups) {
        const auto it = std::find_if(s.models.begin(), s.models.end(),
                                     [&](const Prepared& x) { return x.setup == m; });
        if (!it->arch) error = fmt::format("{} does not build: {}", m.model, it->error);
        index.push_back(it->column);
      }
      if (!error.empty()) {
        row.verdict = "not_measurable";
        row.reason = error;
      } else {
        const RatioEstimate e = ratio_estimate(per_round(p, s, index));
        row.measured = e.median;
        row.ci_low = e.ci_low;
        row.ci_high = e.ci_high;
        row.ci_level = e.ci_level;
        row.rounds = e.rounds;
        if (p.claimed > 0) row.quotient = e.median / p.claimed;
        if (p.judged()) {
          const ClaimOutcome outcome = judge_ratio(p.claimed, e, o.tolerance);
          row.verdict = std::string(to_string(outcome.verdict));
          row.reason =
              p.reason.empty() ? outcome.reason : fmt::format("{}; {}", p.reason, outcome.reason);
        }
      }
    }
    rows.push_back(std::move(row));
  }
  store.add_claim_results(rows);
  run_scope.finish(RunStatus::Finished);

  const std::string device_name =
      fmt::format("{} ({} threads by default)", device.fingerprint.cpu_model, run_threads);
  if (output != OutputKind::None) {
    std::string text;
    if (output == OutputKind::Markdown) {
      text = claims_markdown(rows, run_scope.id(), device_name);
    } else {
      reports::ReportData data = reports::load_report_data(store, {.run_ids = {run_scope.id()}});
      data.generated_at = now_utc();
      data.generator = fmt::format("hwnas {}", build_info().code_version);
      text = reports::render(data, output == OutputKind::Html ? reports::ReportFormat::Html
                                                              : reports::ReportFormat::Csv);
    }
    std::ofstream out(o.output);
    out << text;
    if (!out) throw IoError(fmt::format("reproduce: cannot write {}", o.output));
    log::info("reproduce", "wrote {}", o.output);
  }
  if (o.json) {
    fmt::print("{}\n", claims_json(rows).dump(2));
    return;
  }
  fmt::print("run {} on {}, device {}\n{}", run_scope.id(), device_name, device.device_id,
             claims_table(rows));
}

}  // namespace

void add_reproduce_command(CLI::App& app) {
  auto options = std::make_shared<ReproduceOptions>();
  CLI::App* command = app.add_subcommand(
      "reproduce",
      "Measure the published speed claims of the claims ledger on this device and judge them");
  command->add_option("--claims", options->claims,
                      "a claims file (schema claims/v1); default: the bundled ledger");
  command->add_option("--only", options->only,
                      "only these claim ids (and ratios derived from them)");
  command->add_option("--rounds", options->rounds, "interleaved rounds per model")
      ->capture_default_str();
  command->add_option("--policy", options->policy, "timing policy per round: default or quick")
      ->capture_default_str();
  command
      ->add_option("--tolerance", options->tolerance,
                   "a ratio holds when its CI reaches within this factor of the claim")
      ->capture_default_str();
  command->add_flag("--json", options->json, "print one JSON object per claim (an array)");
  command->add_option("-o,--output", options->output,
                      "also write the results: FILE.md the claims table, FILE.html or FILE.csv the "
                      "report of this run");
  add_threads_option(*command, options->common);
  add_db_option(*command, options->common);
  command->callback([options] { run(*options); });
}

}  // namespace hwnas::cli
