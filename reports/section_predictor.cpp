// The latency predictor: the lookup table's prediction against the end-to-end measurement of the
// same architecture, with the y = x line and the MAPE.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "reports/report_sections.hpp"
#include "reports/svg_chart.hpp"

namespace hwnas::reports {

Section section_predictor(const ReportData& data) {
  Section s{.id = "predictor", .title = "Latency predictor (lookup table) vs measurement"};
  if (data.predictor.empty()) {
    s.notes.push_back(fmt::format(
        "No predicted latency was checked against a measurement in the chosen runs: a search with "
        "--latency lut (hwnas search --latency lut{}) measures its front and the candidates near "
        "the budget, and stores the prediction beside each measurement. (hwnas lut prints its "
        "error but stores only the measurements.)",
        db_flag(data)));
    return s;
  }
  const double error = mape(data.predictor);
  s.notes.push_back(fmt::format(
      "{} architectures both predicted (calibrated sum of per-layer latencies) and measured end to "
      "end: MAPE {:.2f}%. Points above the line are slower than predicted.",
      data.predictor.size(), 100 * error));
  XyChart chart{.id = "predictor-scatter",
                .title = fmt::format("Predicted vs measured latency (MAPE {:.2f}%)", 100 * error),
                .x = {.label = "predicted", .unit = "ms"},
                .y = {.label = "measured", .unit = "ms"},
                .identity_line = true};
  double lo = 0, hi = 0;
  for (const PredictorPair& p : data.predictor) {
    lo = lo == 0 ? std::min(p.predicted_ms, p.measured_ms)
                 : std::min({lo, p.predicted_ms, p.measured_ms});
    hi = std::max({hi, p.predicted_ms, p.measured_ms});
  }
  if (lo > 0 && hi / lo >= 10) chart.x.scale = chart.y.scale = Scale::Log;
  std::map<std::int64_t, std::size_t> by_run;
  for (const PredictorPair& p : data.predictor) {
    auto [it, added] = by_run.emplace(p.run_id, chart.series.size());
    if (added)
      chart.series.push_back({.name = fmt::format("run {}", p.run_id), .color = it->second});
    chart.series[it->second].points.push_back(
        {p.predicted_ms, p.measured_ms,
         fmt::format("{} (run {})\npredicted {:.4g} ms, measured {:.4g} ms, error {:+.1f}%", p.hash,
                     p.run_id, p.predicted_ms, p.measured_ms,
                     100 * (p.predicted_ms - p.measured_ms) / p.measured_ms),
         ""});
  }
  s.charts.push_back(render(chart));
  Table table{.name = "predictor_pairs",
              .caption = "Predicted and measured latency per architecture",
              .columns = {"run", "arch", "predicted_ms", "measured_ms", "error %"}};
  for (const PredictorPair& p : data.predictor) {
    table.rows.push_back(
        {integer_cell(p.run_id), text_cell(p.hash), number_cell(p.predicted_ms, "{:.4f}"),
         number_cell(p.measured_ms, "{:.4f}"),
         number_cell(100 * (p.predicted_ms - p.measured_ms) / p.measured_ms, "{:+.2f}")});
  }
  s.tables.push_back(std::move(table));
  return s;
}

}  // namespace hwnas::reports
