#include "apps/roofline_cache.hpp"

#include <nlohmann/json.hpp>

#include "bench/log.hpp"
#include "bench/roofline_json.hpp"

namespace hwnas::cli {

std::optional<Roofline> stored_roofline(const Store& store, const DeviceContext& device) {
  std::optional<Roofline> latest;
  for (const RunRow& run : store.runs()) {  // oldest first: the last match wins
    if (run.kind != "roofline" || run.device_id != device.device_id || run.status != RunStatus::Finished) {
      continue;
    }
    const auto software = nlohmann::json::parse(run.software_json, nullptr, /*allow_exceptions=*/false);
    if (software.is_discarded() || software.value("onednn_version", "") != device.fingerprint.onednn_version) {
      continue;
    }
    Roofline roofline = roofline_from_json(run.config_json);
    if (roofline.threads == device.fingerprint.threads) latest = roofline;
  }
  return latest;
}

Roofline measure_and_store_roofline(Store& store, const Engine& engine, const DeviceContext& device,
                                    const MeasurePolicy& policy) {
  log::info("roofline", "measuring this device's ceilings at threads={} (FMA peak, 2048^3 matmul, copy "
            "bandwidth in L2 / L3 / DRAM)", engine.threads());
  // Measured first and stored as one finished run: a run interrupted mid-measurement leaves nothing.
  const Roofline roofline = measure_roofline(engine, policy);
  const std::int64_t run_id = store.begin_run({.kind = "roofline",
                                               .device_id = device.device_id,
                                               .config_json = roofline_to_json(roofline),
                                               .code_version = device.fingerprint.code_version,
                                               .software_json = software_json(device.fingerprint)});
  store.finish_run(run_id, RunStatus::Finished);
  return roofline;
}

Roofline roofline_for(Store& store, const Engine& engine, const DeviceContext& device,
                      const MeasurePolicy& policy) {
  if (auto stored = stored_roofline(store, device)) return *stored;
  return measure_and_store_roofline(store, engine, device, policy);
}

}  // namespace hwnas::cli
