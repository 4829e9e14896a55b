// hwnas runs [--db FILE] [--json] [--kind K]: the runs of a store, so a user can find what to
// --resume or report.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"

namespace hwnas::cli {
namespace {

struct RunsOptions {
  CommonOptions common;
  bool json = false;
  std::string kind;  // empty = every kind
};

// A run with what its listing shows.
struct Listed {
  RunRow run;
  nlohmann::json config;
  std::int64_t measurements = 0;
  std::int64_t generations = 0;
  std::string summary;
};

// A config value as the summary shows it: strings bare, arrays comma-joined, anything else as JSON;
// `fallback` when the key is absent (configs of other versions lack some keys).
std::string value_of(const nlohmann::json& config, const char* key, const char* fallback = "?") {
  if (!config.is_object() || !config.contains(key) || config[key].is_null()) return fallback;
  const nlohmann::json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_array()) {
    std::vector<std::string> parts;
    for (const nlohmann::json& e : v)
      parts.push_back(e.is_string() ? e.get<std::string>() : e.dump());
    return fmt::format("{}", fmt::join(parts, ","));
  }
  return v.dump();
}

std::string summary_of(const Listed& l) {
  const nlohmann::json& c = l.config;
  const std::string& kind = l.run.kind;
  if (kind == "search") {
    std::string s = fmt::format("space={} objectives={} latency={} population={} x generations={}",
                                value_of(c, "space"), value_of(c, "objectives"),
                                value_of(c, "latency"), value_of(c, "population"),
                                value_of(c, "generations"));
    // The budgets are stored as typed ("20ms", "30M"); empty = none.
    for (const char* budget : {"latency_budget", "params_budget"}) {
      if (c.contains(budget) && c[budget].is_string() && !c[budget].get<std::string>().empty())
        s += fmt::format(" {}={}", budget, value_of(c, budget));
    }
    return s + fmt::format(" completed={}", l.generations);
  }
  if (kind == "sweep") {
    return fmt::format("grid={} shard={} measured={}/{}", value_of(c, "grid"),
                       value_of(c, "shard", "0/1"), l.measurements, value_of(c, "points"));
  }
  if (kind == "bench") {
    return fmt::format("arch={} batch={} res={} threads={}", value_of(c, "arch"),
                       value_of(c, "batch"), value_of(c, "res"), value_of(c, "threads"));
  }
  if (kind == "bench-op") {
    const std::string suite = value_of(c, "suite", "");
    std::string what = fmt::format("suite={}", suite);
    if (suite.empty() && c.contains("words") && c["words"].is_array()) {
      what = fmt::format("{}", fmt::join(c["words"].get<std::vector<std::string>>(), " "));
    }
    return fmt::format("{} threads={} measurements={}", what, value_of(c, "threads"),
                       l.measurements);
  }
  if (kind == "roofline") {
    std::string s;
    for (const char* key : {"peak_gflops", "matmul_gflops", "dram_gbps"}) {
      if (c.contains(key) && c[key].is_number())
        s += fmt::format("{}={:.1f} ", key, c[key].get<double>());
    }
    if (!s.empty()) return s.substr(0, s.size() - 1);
  }
  std::string dumped = c.dump();
  constexpr std::size_t kMaxConfig = 80;
  if (dumped.size() > kMaxConfig) dumped = dumped.substr(0, kMaxConfig - 3) + "...";
  return dumped;
}

// ISO 8601 UTC with milliseconds, as the store writes it, to seconds since the epoch.
std::optional<double> epoch_seconds(const std::string& iso) {
  std::tm tm{};
  double seconds = 0;
  if (std::sscanf(iso.c_str(), "%d-%d-%dT%d:%d:%lfZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                  &tm.tm_hour, &tm.tm_min, &seconds) != 6) {
    return std::nullopt;
  }
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + seconds;
}

std::string duration_of(const RunRow& run) {
  if (!run.finished_at) return "-";
  const std::optional<double> start = epoch_seconds(run.started_at),
                              end = epoch_seconds(*run.finished_at);
  if (!start || !end || *end < *start) return "?";
  const double s = *end - *start;
  if (s < 60) return fmt::format("{:.1f}s", s);
  const auto whole = static_cast<long long>(s);
  if (whole < 3600) return fmt::format("{}m{:02}s", whole / 60, whole % 60);
  return fmt::format("{}h{:02}m", whole / 3600, whole % 3600 / 60);
}

// "2024-05-01T12:34:56.789Z" -> "2024-05-01 12:34:56": the listing needs no milliseconds.
std::string short_time(const std::optional<std::string>& iso) {
  if (!iso) return "-";
  if (iso->size() < 19) return *iso;
  std::string t = iso->substr(0, 19);
  t[10] = ' ';
  return t;
}

void run(const RunsOptions& options) {
  const std::string& db = options.common.db;
  // Listing must not leave an empty store behind a mistyped path.
  if (!std::filesystem::is_regular_file(db)) {
    throw InvalidArgument(fmt::format("runs: no database at {} (see --db)", db));
  }
  // Read-write: a run whose process has died is shown as unfinished (open() marks it), and an older
  // file is migrated.
  Store store = Store::open(db);
  std::vector<Listed> listed;
  for (RunRow& run : store.runs()) {
    if (!options.kind.empty() && run.kind != options.kind) continue;
    Listed l{.run = std::move(run)};
    l.config = nlohmann::json::parse(l.run.config_json);  // json_valid by the schema
    l.measurements = static_cast<std::int64_t>(store.measurements_for_run(l.run.id).size());
    l.generations = static_cast<std::int64_t>(store.generations(l.run.id).size());
    l.summary = summary_of(l);
    listed.push_back(std::move(l));
  }
  if (options.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const Listed& l : listed) {
      out.push_back({{"id", l.run.id},
                     {"uid", l.run.uid},
                     {"kind", l.run.kind},
                     {"status", to_string(l.run.status)},
                     {"started_at", l.run.started_at},
                     {"finished_at",
                      l.run.finished_at ? nlohmann::json(*l.run.finished_at) : nlohmann::json()},
                     {"config", l.config},
                     {"summary", l.summary},
                     {"measurements", l.measurements},
                     {"generations", l.generations}});
    }
    fmt::print("{}\n", out.dump(2));
    return;
  }
  if (listed.empty()) {
    fmt::print("no runs{} in {}\n",
               options.kind.empty() ? "" : fmt::format(" of kind {}", options.kind), db);
    return;
  }
  fmt::print("{:>4}  {:<8}  {:<10}  {:<19}  {:<19}  {:>8}  {}\n", "id", "kind", "status", "started",
             "finished", "duration", "config");
  for (const Listed& l : listed) {
    fmt::print("{:>4}  {:<8}  {:<10}  {:<19}  {:<19}  {:>8}  {}\n", l.run.id, l.run.kind,
               to_string(l.run.status), short_time(l.run.started_at), short_time(l.run.finished_at),
               duration_of(l.run), l.summary);
  }
}

}  // namespace

void add_runs_command(CLI::App& app) {
  auto options = std::make_shared<RunsOptions>();
  CLI::App* command = app.add_subcommand(
      "runs", "List the runs of a store (id, kind, status, times, config summary)");
  command->add_flag(
      "--json", options->json,
      "print a JSON array: id, uid, kind, status, started_at, finished_at, config, summary, "
      "measurements, generations");
  command->add_option("--kind", options->kind,
                      "only runs of this kind (sweep, search, bench, bench-op, ...)");
  add_db_option(*command, options->common);
  command->callback([options] { run(*options); });
}

}  // namespace hwnas::cli
