#include "apps/arch_measurement.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "apps/measurement_output.hpp"

namespace hwnas::cli {

MeasurementRow arch_measurement_row(const PreparedArch& p, const Measurement& m,
                                    std::int64_t run_id, int threads, std::string repro) {
  const ArchBenchOptions& o = p.options;
  const nlohmann::json params = {{"name", p.arch.name},      {"arch_hash", p.hash},
                                 {"batch", o.batch},         {"res", o.resolution},
                                 {"params", p.params},       {"seed", o.seed},
                                 {"weights", o.weights_path}};
  MeasurementRow row{.run_id = run_id,
                     .kind = MeasurementKind::Arch,
                     .key = p.key,
                     .params_json = params.dump(),
                     .shapes = fmt::format("images={} logits={}", p.images.shape().to_string(),
                                           p.logits.shape().to_string()),
                     .threads = threads,
                     .batch = o.batch,
                     .impl = "subnet",
                     .flops = p.flops,
                     .bytes = p.bytes,
                     .repro = std::move(repro),
                     .arch_hash = p.hash};
  set_statistics(row, m);
  return row;
}

ArchRow arch_row(const Arch& arch, const std::string& hash) {
  return {.hash = hash,
          .canonical_json = to_json(arch),
          .name = arch.name.empty() ? fmt::format("subnet-{}", hash) : arch.name};
}

}  // namespace hwnas::cli
