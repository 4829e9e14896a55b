// Each subcommand registers itself on the root CLI::App; its callback runs the command.
#pragma once

#include <CLI/CLI.hpp>

namespace hwnas::cli {

void add_device_command(CLI::App& app);
void add_bench_op_command(CLI::App& app);
void add_bench_command(CLI::App& app);
void add_sweep_command(CLI::App& app);

}  // namespace hwnas::cli
