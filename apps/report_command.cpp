// hwnas report [--run ID ...] [--db FILE] -o FILE [--format html|md|csv]
//
// A report of a store (reports/report.hpp): the newest search run when no --run is given, several
// runs compared. Reads the store only: a missing database is an error (never created), and the file
// is written whole or not at all (a temporary beside it, then renamed).
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "bench/build_info.hpp"
#include "bench/log.hpp"
#include "kernels/error.hpp"
#include "reports/report.hpp"

namespace hwnas::cli {
namespace {

struct ReportOptions {
  CommonOptions common;
  std::vector<std::int64_t> runs;
  std::string output;
  std::string format;  // empty = from the output's extension
};

reports::ReportFormat format_of(const ReportOptions& o) {
  std::string word = o.format;
  if (word.empty()) {
    std::string ext = std::filesystem::path(o.output).extension().string();
    if (ext == ".html" || ext == ".htm") return reports::ReportFormat::Html;
    if (ext == ".md" || ext == ".markdown") return reports::ReportFormat::Markdown;
    if (ext == ".csv") return reports::ReportFormat::Csv;
    throw InvalidArgument(fmt::format(
        "report: cannot tell the format of -o {} from its extension '{}'; use .html, .md or .csv, "
        "or --format html|md|csv",
        o.output, ext));
  }
  if (word == "html") return reports::ReportFormat::Html;
  if (word == "md" || word == "markdown") return reports::ReportFormat::Markdown;
  if (word == "csv") return reports::ReportFormat::Csv;
  throw InvalidArgument(fmt::format("report: --format {} is not one of html, md, csv", word));
}

std::string now_utc() {
  const std::time_t t = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

// Writes `text` to `path` atomically: a temporary in the same directory, then rename(2), so a
// reader never sees half a report and a failed write leaves the old file. An output that cannot be
// written is bad input (exit 2): the user named it.
void write_atomically(const std::string& path, const std::string& text) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : ".";
  const std::filesystem::path temp =
      dir / fmt::format(".{}.tmp.{}", target.filename().string(), getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw InvalidArgument(fmt::format("report: cannot write -o {}: cannot create a file in {}",
                                        path, dir.string()));
    }
    out << text;
    out.flush();
    if (!out) {
      std::error_code ignored;
      std::filesystem::remove(temp, ignored);
      throw InvalidArgument(fmt::format("report: cannot write -o {}: write failed", path));
    }
  }
  std::error_code error;
  std::filesystem::rename(temp, target, error);
  if (error) {
    std::error_code ignored;
    std::filesystem::remove(temp, ignored);
    throw InvalidArgument(fmt::format("report: cannot write -o {}: {}", path, error.message()));
  }
}

void run(const ReportOptions& options) {
  const reports::ReportFormat format = format_of(options);
  const std::string& db = options.common.db;
  // A report must not leave an empty store behind a mistyped path.
  if (!std::filesystem::is_regular_file(db)) {
    throw InvalidArgument(fmt::format("report: no database at {} (see --db)", db));
  }
  // The output is checked before the work: a directory, or a folder that does not exist.
  const std::filesystem::path out(options.output);
  if (std::filesystem::is_directory(out)) {
    throw InvalidArgument(
        fmt::format("report: cannot write -o {}: it is a directory", options.output));
  }
  if (out.has_parent_path() && !std::filesystem::is_directory(out.parent_path())) {
    throw InvalidArgument(fmt::format("report: cannot write -o {}: no directory {}", options.output,
                                      out.parent_path().string()));
  }
  std::optional<Store> store;
  try {
    // Read-write as `hwnas runs` opens it: an older file is migrated and dead runs are shown
    // unfinished; nothing else is written.
    store.emplace(Store::open(db));
  } catch (const IoError& e) {
    // A newer schema or a file that is not a store: the user named the wrong file (exit 2).
    throw InvalidArgument(fmt::format("report: {}", e.what()));
  }
  reports::ReportData data = reports::load_report_data(*store, {.run_ids = options.runs});
  data.generated_at = now_utc();
  data.generator = fmt::format("hwnas {}", build_info().code_version);
  write_atomically(options.output, reports::render(data, format));
  std::vector<std::string> runs;
  for (const RunRow& r : data.runs) runs.push_back(fmt::format("{} {}", r.kind, r.id));
  log::info("report", "wrote {} ({}) of {}", options.output,
            runs.empty() ? std::string("no search run") : fmt::format("{}", fmt::join(runs, ", ")),
            db);
}

}  // namespace

void add_report_command(CLI::App& app) {
  auto options = std::make_shared<ReportOptions>();
  CLI::App* command = app.add_subcommand(
      "report",
      "Write a report of a store: self-contained HTML with charts, Markdown tables, or a long CSV");
  command->add_option(
      "--run", options->runs,
      "run id(s) to report (repeat for a comparison); default: the newest search run");
  command->add_option("-o,--output", options->output, "the report file (.html, .md or .csv)")
      ->required();
  command->add_option("--format", options->format,
                      "html, md or csv (default: from the output's extension)");
  add_db_option(*command, options->common);
  command->callback([options] { run(*options); });
}

}  // namespace hwnas::cli
