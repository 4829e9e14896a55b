// The device and the runs: what was measured where, with which code, and how the numbers were got.
#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "reports/report_sections.hpp"

namespace hwnas::reports {
namespace {

std::string drift_text(const RunRow& run) {
  if (!run.drift) return "-";
  return fmt::format("{:+.2f}%{}", 100 * run.drift->rel, run.drift->drifted ? " (drifted)" : "");
}

}  // namespace

Section section_device(const ReportData& data) {
  Section s{.id = "device", .title = "Device and runs"};
  if (!data.device) {
    s.notes.push_back(
        fmt::format("This database holds no run, so no device: hwnas search{0}, hwnas sweep --grid "
                    "bench/grids/mixers.json{0} or hwnas bench swin_t{0} measure this machine.",
                    db_flag(data)));
    return s;
  }
  s.notes.push_back(fmt::format(
      "Every number below was measured on this device (id {}, key {}), and only runs of this "
      "device are read. Latencies are medians of the timing protocol (warm-up, then repeated "
      "samples; p10 and p90 beside them). Measured latency is an end-to-end forward on this "
      "device; predicted latency (source lut) is a calibrated sum of per-layer latencies.",
      data.device->id, data.device->device_key));
  s.notes.push_back(kQualityNote);
  Table fp{.name = "fingerprint",
           .caption = fmt::format("Device fingerprint (first seen {})", data.device->first_seen),
           .columns = {"field", "value"}};
  const auto j = nlohmann::json::parse(data.device->fingerprint_json, nullptr, false);
  if (j.is_object()) {
    for (const auto& [key, value] : j.items()) {
      fp.rows.push_back(
          {text_cell(key),
           value.is_number_integer() ? integer_cell(value.get<std::int64_t>())
           : value.is_number()
               ? number_cell(value.get<double>(), "{:.10g}")
               : text_cell(value.is_string() ? value.get<std::string>() : value.dump())});
    }
  }
  s.tables.push_back(std::move(fp));

  Table runs{.name = "runs",
             .caption = "The runs this report is of",
             .columns = {"run", "kind", "status", "started", "finished", "code version", "host",
                         "drift of the reference kernel"}};
  for (const RunRow& r : data.runs) {
    runs.rows.push_back({integer_cell(r.id), text_cell(r.kind),
                         text_cell(std::string(to_string(r.status))), text_cell(r.started_at),
                         text_cell(r.finished_at.value_or("-")), text_cell(r.code_version),
                         text_cell(r.host), text_cell(drift_text(r))});
  }
  if (runs.rows.empty()) {
    s.notes.push_back(
        fmt::format("No search run was chosen or found: hwnas search{} runs one; the "
                    "sections below still show the device's sweeps and benches.",
                    db_flag(data)));
  } else {
    s.tables.push_back(std::move(runs));
  }
  for (const SearchRun& sr : data.searches) {
    Table config{.name = fmt::format("config_run_{}", sr.run.id),
                 .caption = fmt::format("Settings of search run {} (the store also keeps the whole "
                                        "space JSON)",
                                        sr.run.id),
                 .columns = {"setting", "value"}};
    for (const auto& [key, value] : sr.settings)
      config.rows.push_back({text_cell(key), text_cell(value)});
    s.tables.push_back(std::move(config));
  }
  return s;
}

}  // namespace hwnas::reports
