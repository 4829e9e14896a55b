// The claims section: published speed claims against what `hwnas reproduce` measured on this
// device. A plot of claimed against measured speed ratio (log-log, with y = x: on the line the
// claim reproduces exactly; the tolerance band's edges are drawn beside it), and the table of every
// claim with its verdict and reason, the unmeasured ones included.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>

#include "reports/report_sections.hpp"
#include "reports/svg_chart.hpp"

namespace hwnas::reports {

namespace {

// Palette index per verdict, so a colour means the same in every report.
std::size_t verdict_color(const std::string& verdict) {
  if (verdict == "holds") return 2;
  if (verdict == "does_not_hold") return 5;
  return 0;
}

}  // namespace

Section section_claims(const ReportData& data) {
  Section s{.id = "claims", .title = "Paper speed claims"};
  if (!data.claims_run || data.claims.empty()) {
    s.notes.push_back(fmt::format(
        "No claims measured in this database; run hwnas reproduce{} to measure the bundled claims "
        "ledger on this device.",
        db_flag(data)));
    return s;
  }
  std::map<std::string, int> counts;
  double tolerance = 0;
  for (const ClaimResultRow& c : data.claims) {
    ++counts[c.verdict];
    tolerance = std::max(tolerance, c.tolerance);
  }
  std::vector<std::string> parts;
  for (const auto& [verdict, n] : counts) parts.push_back(fmt::format("{} {}", n, verdict));
  s.notes.push_back(fmt::format(
      "Run {} measured the claims ledger on this device: {} claims, {}. A ratio is a speed ratio "
      "(images/s of the first model over the second), measured interleaved (A B A B ...) and "
      "summarised as the median of the per-round ratios with an order-statistic confidence "
      "interval. A claim holds when that interval reaches within {:.0f} % of the claimed ratio. "
      "Claims from another device class (a GPU claim on this CPU) and absolute numbers from "
      "another machine are listed, not judged; ratios named \"A/B\" are implied by two absolute "
      "claims of one source table.",
      data.claims_run->id, data.claims.size(), fmt::join(parts, ", "), 100 * tolerance));

  XyChart chart{.id = "claims-scatter",
                .title = "Claimed vs measured speed ratio",
                .x = {.label = "claimed ratio", .unit = "x", .scale = Scale::Log},
                .y = {.label = "measured ratio on this device", .unit = "x", .scale = Scale::Log},
                .identity_line = true};
  std::map<std::string, XySeries> by_verdict;
  double lo = 0, hi = 0;
  for (const ClaimResultRow& c : data.claims) {
    if (c.kind != "ratio" || !std::isfinite(c.measured) || !(c.claimed > 0)) continue;
    XySeries& series = by_verdict[c.verdict];
    series.name = c.verdict;
    series.color = verdict_color(c.verdict);
    series.points.push_back(
        {c.claimed, c.measured,
         fmt::format("{}: {}\nclaimed {:.3g}x, measured {:.3g}x [{:.3g}, {:.3g}]\n{}", c.claim_id,
                     fmt::join(c.models, " / "), c.claimed, c.measured, c.ci_low, c.ci_high,
                     c.reason),
         "claim-" + c.claim_id, c.claim_id});
    for (double v : {c.claimed, c.measured}) {
      lo = lo == 0 ? v : std::min(lo, v);
      hi = std::max(hi, v);
    }
  }
  if (!by_verdict.empty()) {
    if (tolerance > 0) {
      const double a = lo / 1.5, b = hi * 1.5;
      chart.guides.push_back({.name = fmt::format("claimed x {:.2f}", 1 + tolerance),
                              .points = {{a, a * (1 + tolerance)}, {b, b * (1 + tolerance)}}});
      chart.guides.push_back({.name = fmt::format("claimed / {:.2f}", 1 + tolerance),
                              .points = {{a, a / (1 + tolerance)}, {b, b / (1 + tolerance)}}});
    }
    for (auto& [verdict, series] : by_verdict) chart.series.push_back(std::move(series));
    s.charts.push_back(render(chart));
  }

  Table table{.name = "claims",
              .caption = "Every claim of the ledger, measured or not (with the reason)",
              .columns = {"claim", "verdict", "models", "metric", "claimed", "unit", "measured",
                          "ci_low", "ci_high", "quotient", "rounds", "claim's device", "reason"}};
  for (const ClaimResultRow& c : data.claims) {
    table.rows.push_back({text_cell(c.claim_id), text_cell(c.verdict),
                          text_cell(fmt::format("{}", fmt::join(c.models, " / "))),
                          text_cell(c.metric), number_cell(c.claimed > 0 ? c.claimed : kNoValue),
                          text_cell(c.unit), number_cell(c.measured), number_cell(c.ci_low),
                          number_cell(c.ci_high), number_cell(c.quotient, "{:.2f}"),
                          integer_cell(c.rounds), text_cell(c.device), text_cell(c.reason)});
    table.row_anchors.push_back("claim-" + c.claim_id);
  }
  s.tables.push_back(std::move(table));
  return s;
}

}  // namespace hwnas::reports
