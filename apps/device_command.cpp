// hwnas device [--json] [--roofline] [--threads N] [--db FILE]
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "apps/cli_common.hpp"
#include "apps/commands.hpp"
#include "apps/roofline_cache.hpp"
#include "bench/roofline_json.hpp"

namespace hwnas::cli {
namespace {

struct DeviceOptions {
  CommonOptions common;
  bool json = false;
  bool roofline = false;
};

void print_table(const Fingerprint& fp, const Roofline* roofline) {
  const auto row = [](std::string_view name, const std::string& value) {
    fmt::print("{:<16} {}\n", name, value);
  };
  row("cpu_model", fp.cpu_model);
  row("isa", fp.isa);
  row("cores", std::to_string(fp.cores));
  row("threads", fmt::format("{} (affinity {})", fp.threads, fp.affinity));
  row("memory", fmt::format("{:.1f} GiB", static_cast<double>(fp.memory_bytes) / (1 << 30)));
  row("caches", fmt::format("L1d {} KiB, L2 {} KiB, L3 {} MiB", fp.l1d_bytes >> 10, fp.l2_bytes >> 10,
                            fp.l3_bytes >> 20));
  row("governor", fp.governor);
  row("onednn", fmt::format("{} ({})", fp.onednn_version, fp.onednn_source));
  row("compiler", fp.compiler);
  row("build", fmt::format("{} [{}]", fp.build_type, fp.build_flags));
  row("code_version", fp.code_version);
  row("gpus", fp.gpus.empty() ? std::string("none") : fmt::format("{}", fmt::join(fp.gpus, "; ")));
  row("os", fp.os);
  if (roofline != nullptr) {
    row("peak_gflops", fmt::format("{:.1f} (f32 FMA loop, {})", roofline->peak_gflops, roofline->peak_isa));
    row("matmul_gflops", fmt::format("{:.1f} (f32 2048^3, oneDNN)", roofline->matmul_gflops));
    row("l2_gbps", fmt::format("{:.1f} (copy, {} KiB working set)", roofline->l2_gbps,
                               roofline->l2_working_set_bytes >> 10));
    row("l3_gbps", fmt::format("{:.1f} (copy, {} MiB working set)", roofline->l3_gbps,
                               roofline->l3_working_set_bytes >> 20));
    row("dram_gbps", fmt::format("{:.1f} (copy, {} MiB working set)", roofline->dram_gbps,
                                 roofline->dram_working_set_bytes >> 20));
  }
}

void run(const DeviceOptions& options) {
  const Engine engine = make_engine(options.common);
  Store store = Store::open(options.common.db);
  const DeviceContext device = register_device(store, engine);
  std::unique_ptr<Roofline> roofline;
  if (options.roofline) {
    roofline = std::make_unique<Roofline>(
        measure_and_store_roofline(store, engine, device, MeasurePolicy{}));
  }
  if (options.json) {
    nlohmann::json out = nlohmann::json::parse(fingerprint_to_json(device.fingerprint));
    if (roofline) out.update(nlohmann::json::parse(roofline_to_json(*roofline)));
    fmt::print("{}\n", out.dump(2));
  } else {
    print_table(device.fingerprint, roofline.get());
  }
}

}  // namespace

void add_device_command(CLI::App& app) {
  auto options = std::make_shared<DeviceOptions>();
  CLI::App* command = app.add_subcommand(
      "device", "Print this device's fingerprint (and with --roofline, measure its ceilings); store it");
  command->add_flag("--json", options->json, "print one JSON object");
  command->add_flag("--roofline", options->roofline,
                    "measure peak_gflops, matmul_gflops, l2_gbps, l3_gbps, dram_gbps (takes ~10 s)");
  add_threads_option(*command, options->common);
  add_db_option(*command, options->common);
  command->callback([options] { run(*options); });
}

}  // namespace hwnas::cli
