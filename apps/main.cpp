// hwnas: the command line. Parses flags, wires the layers, and is the only place that catches
// hwnas::Error: "error: <what>" on stderr, exit 2 for bad input (InvalidArgument, a CLI parse
// error), 1 for everything else.
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "apps/commands.hpp"
#include "bench/log.hpp"
#include "kernels/error.hpp"

namespace {

constexpr int kExitBadInput = 2;
constexpr int kExitFailure = 1;

int report(const char* what, int code) {
  std::fprintf(stderr, "error: %s\n", what);
  return code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"hwnas: measure vision-backbone building blocks on this device and search for fast designs"};
  app.require_subcommand(1);
  app.fallthrough();  // global options (--log-level) may also follow the subcommand
  app.set_help_all_flag("--help-all", "help for every subcommand");
  std::string log_level = "info";
  app.add_option("--log-level", log_level, "error, warn, info or debug (logs go to stderr)")
      ->capture_default_str();
  app.parse_complete_callback([&] { hwnas::log::set_level(hwnas::log::parse_level(log_level)); });
  hwnas::cli::add_device_command(app);
  hwnas::cli::add_bench_op_command(app);
  hwnas::cli::add_bench_command(app);
  hwnas::cli::add_search_command(app);
  hwnas::cli::add_lut_command(app);
  hwnas::cli::add_merge_command(app);
  hwnas::cli::add_runs_command(app);
  hwnas::cli::add_sweep_command(app);
  hwnas::cli::add_reproduce_command(app);
  hwnas::cli::add_report_command(app);
  // CLI11 would only say "a subcommand is required"; name the word that is not one.
  std::vector<std::string> names;
  for (const CLI::App* command : app.get_subcommands({})) names.push_back(command->get_name());
  if (argc > 1 && argv[1][0] != '-' && std::find(names.begin(), names.end(), argv[1]) == names.end()) {
    std::fprintf(stderr, "error: unknown command '%s'; commands: %s (see hwnas --help)\n", argv[1],
                 fmt::format("{}", fmt::join(names, ", ")).c_str());
    return kExitBadInput;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::fprintf(stderr, "error: %s (see hwnas --help)\n", e.what());
    return kExitBadInput;
  } catch (const hwnas::InvalidArgument& e) {
    return report(e.what(), kExitBadInput);
  } catch (const hwnas::Error& e) {
    return report(e.what(), kExitFailure);
  } catch (const std::bad_alloc&) {
    return report("out of memory", kExitFailure);
  }
  return 0;
}
