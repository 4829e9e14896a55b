// Each subcommand registers itself on the root CLI::App; its callback runs the command.
#pragma once

#include <CLI/CLI.hpp>

namespace hwnas::cli {

void add_device_command(CLI::App& app);
void add_bench_op_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_search_command(CLI::App& app);
void add_lut_command(CLI::App& app);
void add_merge_command(CLI::App& app);
void add_runs_command(CLI::App& app);
void add_sweep_command(CLI::App& app);
void add_reproduce_command(CLI::App& app);
void add_report_command(CLI::App& app);

}  // namespace hwnas::cli
