// hwnas merge A.db B.db ... -o out.db: the shards of a sweep or search (each run on its own machine
// into its own file) folded into one store, without duplicates (store/merge.hpp).
#include <fmt/format.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "apps/commands.hpp"
#include "bench/log.hpp"
#include "store/merge.hpp"

namespace hwnas::cli {
namespace {

namespace fs = std::filesystem;

struct MergeOptions {
  std::vector<std::string> sources;
  std::string out;
};

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (fs::equivalent(a, b, ec)) return true;
  return fs::weakly_canonical(a, ec) == fs::weakly_canonical(b, ec);
}

// Everything a source can be refused for that is known before the merge: bad input (exit 2), found
// before anything is written. A conflict between two sources still shows only while merging.
void check_sources(const MergeOptions& options) {
  for (const std::string& source : options.sources) {
    if (same_file(source, options.out)) {
      throw InvalidArgument(
          fmt::format("merge: {} is both a source and -o; list only the other stores (the -o store "
                      "keeps its rows)",
                      source));
    }
    if (!fs::is_regular_file(source))
      throw InvalidArgument(fmt::format("merge: no database at {}", source));
    try {
      Store::open(source, {.mode = sqlite::OpenMode::ReadOnly});
    } catch (const IoError& e) {
      throw InvalidArgument(fmt::format("merge: source {}: {}", source, e.what()));
    }
  }
}

void run(const MergeOptions& options) {
  check_sources(options);
  Store out = Store::open(options.out);
  for (const std::string& source : options.sources) {
    const MergeStats added = merge_store(out, source);
    fmt::print(
        "{}: devices={} archs={} runs={} measurements={} layer_times={} generations={} "
        "candidates={} front_rows={} quality_scores={} claim_results={} predictor_points={}\n",
        source, added.devices, added.archs, added.runs, added.measurements, added.layer_times,
        added.generations, added.candidates, added.front_rows, added.quality_scores,
        added.claim_results, added.predictor_points);
    std::fflush(stdout);  // one line per source as it is done: a long merge shows its progress
  }
  log::info("merge", "into={} sources={} runs={}", options.out, options.sources.size(),
            out.runs().size());
}

}  // namespace

void add_merge_command(CLI::App& app) {
  auto options = std::make_shared<MergeOptions>();
  CLI::App* command = app.add_subcommand(
      "merge", "Fold stores (the shards of a sweep or search) into one, without duplicate rows");
  command->add_option("sources", options->sources, "the stores to fold in (read only)")->required();
  command
      ->add_option(
          "-o,--out", options->out,
          "the store to fold them into: created when missing; an existing one keeps its rows")
      ->required();
  command->callback([options] { run(*options); });
}

}  // namespace hwnas::cli
