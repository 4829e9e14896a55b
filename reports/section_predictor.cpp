// The latency predictor: the lookup table's prediction against the end-to-end measurement of the
// same architecture, with the y = x line and the MAPE. Two sources, one series per run: the
// held-out subnets of `hwnas lut` (the predictor's own benchmark: random subnets, not the ones a
// search steered towards) and the candidates a search measured to check its predictions.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <map>
#include <utility>
#include <vector>

#include "reports/report_sections.hpp"
#include "reports/svg_chart.hpp"

namespace hwnas::reports {
namespace {

bool from_lut(const PredictorPair& p) { return p.source == PredictorSource::LutHeldOut; }

// The series name, and what a reader is told the points of one run are.
std::string series_name(const PredictorPair& p) {
  return from_lut(p) ? fmt::format("hwnas lut run {} held-out", p.run_id)
                     : fmt::format("search run {} checks", p.run_id);
}
std::string origin(const PredictorPair& p) {
  return from_lut(p) ? fmt::format("held-out subnets of hwnas lut run {}", p.run_id)
                     : fmt::format("search run {}'s checked candidates", p.run_id);
}

std::string contended_note(const ReportData& data) {
  if (data.predictor_contended == 0) return "";
  return fmt::format(
      " {} held-out subnet(s) of hwnas lut measured while other processes had the CPUs are left "
      "out.",
      data.predictor_contended);
}

}  // namespace

Section section_predictor(const ReportData& data) {
  Section s{.id = "predictor", .title = "Latency predictor (lookup table) vs measurement"};
  if (data.predictor.empty()) {
    const std::string lut_runs =
        data.predictor_lut_runs.empty()
            ? std::string()
            : fmt::format(
                  " (hwnas lut run {}: no held-out subnet whose measurement can be "
                  "trusted{})",
                  fmt::join(data.predictor_lut_runs, ", "),
                  data.predictor_contended == 0
                      ? std::string()
                      : fmt::format("; {} measured while other processes had the CPUs",
                                    data.predictor_contended));
    s.notes.push_back(fmt::format(
        "No predicted latency was checked against a measurement in the chosen runs or by a "
        "finished hwnas lut run of this device{}. hwnas lut --space FILE{} predicts random "
        "subnets from their layers, measures them end to end and stores both (its held-out "
        "subnets are plotted here); a search with --latency lut (hwnas search --latency lut{}) "
        "measures its front and the candidates near the budget, and stores the prediction beside "
        "each measurement.",
        lut_runs, db_flag(data), db_flag(data)));
    return s;
  }
  const double error = mape(data.predictor);
  // Each run's points and MAPE, in the order read (search checks, then lut).
  std::vector<std::pair<const PredictorPair*, std::vector<PredictorPair>>> runs;
  for (const PredictorPair& p : data.predictor) {
    const auto it = std::find_if(runs.begin(), runs.end(), [&](const auto& r) {
      return r.first->run_id == p.run_id && r.first->source == p.source;
    });
    if (it == runs.end()) {
      runs.push_back({&p, {p}});
    } else {
      it->second.push_back(p);
    }
  }
  std::vector<std::string> origins;
  for (const auto& [first, pairs] : runs) {
    origins.push_back(
        fmt::format("{} ({}, MAPE {:.2f}%)", origin(*first), pairs.size(), 100 * mape(pairs)));
  }
  s.notes.push_back(fmt::format(
      "{} architectures both predicted (calibrated sum of per-layer latencies) and measured end to "
      "end: MAPE {:.2f}%. Points: {}.{} Points above the line are slower than predicted.",
      data.predictor.size(), 100 * error, fmt::join(origins, "; "), contended_note(data)));
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
  for (const auto& [first, pairs] : runs) {
    XySeries& series = chart.series.emplace_back(
        XySeries{.name = series_name(*first), .color = chart.series.size()});
    for (const PredictorPair& p : pairs) {
      series.points.push_back(
          {p.predicted_ms, p.measured_ms,
           fmt::format("{} ({})\npredicted {:.4g} ms, measured {:.4g} ms, error {:+.1f}%", p.hash,
                       series.name, p.predicted_ms, p.measured_ms,
                       100 * (p.predicted_ms - p.measured_ms) / p.measured_ms),
           ""});
    }
  }
  s.charts.push_back(render(chart));
  Table table{.name = "predictor_pairs",
              .caption = "Predicted and measured latency per architecture",
              .columns = {"run", "source", "arch", "predicted_ms", "measured_ms", "error %"}};
  for (const PredictorPair& p : data.predictor) {
    table.rows.push_back(
        {integer_cell(p.run_id), text_cell(from_lut(p) ? "lut held-out" : "search check"),
         text_cell(p.hash), number_cell(p.predicted_ms, "{:.4f}"),
         number_cell(p.measured_ms, "{:.4f}"),
         number_cell(100 * (p.predicted_ms - p.measured_ms) / p.measured_ms, "{:+.2f}")});
  }
  s.tables.push_back(std::move(table));
  return s;
}

}  // namespace hwnas::reports
