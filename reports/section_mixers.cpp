// Mixers, from sweeps: how each block's latency scales with the map (log-log: the slope is the
// exponent), its latency at each stage shape, and the GFLOP/s it achieves against the device's
// roofline (which blocks waste the machine).
#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "reports/report_sections.hpp"
#include "reports/svg_chart.hpp"

namespace hwnas::reports {
namespace {

std::string shape_of(const SweepPoint& p) {
  return p.h > 0 ? fmt::format("{}x{}x{}", p.h, p.w, p.c) : "-";
}

std::string point_tooltip(const SweepPoint& p, const ReportData& data) {
  std::string text = fmt::format(
      "{}\nmedian {:.4g} ms (p10 {:.4g}, p90 {:.4g})\n{:.4g} GFLOP/s at "
      "{:.3g} FLOP/byte",
      p.key, p.median_ms, p.p10_ms, p.p90_ms, p.gflops(), p.intensity());
  if (data.roofline && std::isfinite(p.intensity())) {
    text += fmt::format("\n{:.1f}% of the roofline here",
                        100 * p.gflops() / data.roofline->attainable_gflops(p.intensity()));
  }
  return text;
}

}  // namespace

Section section_mixers(const ReportData& data) {
  Section s{.id = "mixers", .title = "Mixers: scaling and efficiency (sweeps)"};
  if (data.sweep.empty()) {
    s.notes.push_back(fmt::format(
        "No sweep of this device in this database: hwnas sweep --grid bench/grids/mixers.json{} "
        "times every mixer at the four stage shapes and along a resolution ladder "
        "(bench/grids/smoke.json for a quick look).",
        db_flag(data)));
    return s;
  }
  // Resolution ladders: the same block (key without n, h, w) at two or more map sizes.
  std::map<std::string, std::vector<const SweepPoint*>> ladders;
  for (const SweepPoint& p : data.sweep) {
    if (p.h > 0 && p.w > 0) ladders[p.config].push_back(&p);
  }
  XyChart scaling{
      .id = "mixers-scaling",
      .title = "Latency vs map size (log-log; slope 1 = linear in tokens, 2 = quadratic)",
      .x = {.label = "tokens h*w", .scale = Scale::Log},
      .y = {.label = "latency (median)", .unit = "ms", .scale = Scale::Log}};
  std::size_t color = 0;
  for (auto& [config, points] : ladders) {
    std::set<std::int64_t> sizes;
    for (const SweepPoint* p : points) sizes.insert(p->h * p->w);
    if (sizes.size() < 2) continue;
    std::sort(points.begin(), points.end(),
              [](const SweepPoint* a, const SweepPoint* b) { return a->h * a->w < b->h * b->w; });
    XySeries series{.name = config, .style = SeriesStyle::LineMarkers, .color = color++};
    for (const SweepPoint* p : points) {
      series.points.push_back(
          {static_cast<double>(p->h * p->w), p->median_ms, point_tooltip(*p, data), ""});
    }
    scaling.series.push_back(std::move(series));
  }
  if (!scaling.series.empty()) {
    s.charts.push_back(render(scaling));
  } else {
    s.notes.push_back(
        "No block was swept at more than one map size, so there is no scaling plot: the resolution "
        "ladders of bench/grids/mixers.json provide them.");
  }

  // Latency at each shape several blocks were timed at (the stage shapes of a grid): one bar chart
  // per shape, largest map first.
  std::map<std::tuple<std::int64_t, std::int64_t, std::int64_t>, std::vector<const SweepPoint*>>
      shapes;
  for (const SweepPoint& p : data.sweep) {
    if (p.h > 0) shapes[{-p.h * p.w, p.c, p.h}].push_back(&p);
  }
  for (auto& [shape, points] : shapes) {
    if (points.size() < 2) continue;
    std::sort(points.begin(), points.end(),
              [](const SweepPoint* a, const SweepPoint* b) { return a->median_ms < b->median_ms; });
    StackedBarChart bars{
        .id = fmt::format("mixers-shape-{}", shape_of(*points.front())),
        .title = fmt::format("Latency at {} (h x w x c), fastest first", shape_of(*points.front())),
        .y = {.label = "latency (median)", .unit = "ms"}};
    bars.stacks.push_back({.name = "median latency"});
    for (const SweepPoint* p : points) {
      bars.categories.push_back(p->op);
      bars.stacks.front().values.push_back(p->median_ms);
    }
    s.charts.push_back(render(bars));
  }

  XyChart roof{.id = "mixers-roofline",
               .title = "Achieved GFLOP/s vs arithmetic intensity",
               .x = {.label = "arithmetic intensity",
                     .unit = "FLOP/byte (minimum traffic)",
                     .scale = Scale::Log},
               .y = {.label = "achieved", .unit = "GFLOP/s", .scale = Scale::Log}};
  std::map<std::string, std::size_t> op_series;
  double lo = 0, hi = 0;
  for (const SweepPoint& p : data.sweep) {
    if (!(p.gflops() > 0) || !(p.intensity() > 0)) continue;
    auto [it, added] = op_series.emplace(p.op, roof.series.size());
    if (added) roof.series.push_back({.name = p.op});
    roof.series[it->second].points.push_back(
        {p.intensity(), p.gflops(), point_tooltip(p, data), ""});
    lo = lo == 0 ? p.intensity() : std::min(lo, p.intensity());
    hi = std::max(hi, p.intensity());
  }
  if (data.roofline && lo > 0) {
    const RooflineInfo& r = *data.roofline;
    // The DRAM roof up to the ridge point, then the FMA peak, across the data's intensities.
    const double ridge = r.peak_gflops / r.dram_gbps;
    XyGuide roofline{.name = fmt::format("roofline: {:.0f} GB/s DRAM, {:.0f} GFLOP/s peak",
                                         r.dram_gbps, r.peak_gflops),
                     .color = "#333333"};
    roofline.points.push_back({lo / 2, r.attainable_gflops(lo / 2)});
    if (ridge > lo / 2 && ridge < hi * 2) roofline.points.push_back({ridge, r.peak_gflops});
    roofline.points.push_back({hi * 2, r.attainable_gflops(hi * 2)});
    roof.guides.push_back(std::move(roofline));
    // The roof must be in view: the y axis reaches the peak.
    roof.y.max = r.peak_gflops;
    s.notes.push_back(fmt::format(
        "Roofline of run {} ({} threads, {}): FMA peak {:.1f} GFLOP/s, 2048^3 matmul {:.1f} "
        "GFLOP/s, copy bandwidth L2 {:.1f} / L3 {:.1f} / DRAM {:.1f} GB/s. Intensity uses each "
        "block's minimum traffic, so points far below the roof waste the machine.",
        r.run_id, r.threads, r.peak_isa, r.peak_gflops, r.matmul_gflops, r.l2_gbps, r.l3_gbps,
        r.dram_gbps));
  } else {
    s.notes.push_back(fmt::format(
        "No roofline of this device is stored, so the efficiency plot has no roof: hwnas device "
        "--roofline{} measures it.",
        db_flag(data)));
  }
  if (!roof.series.empty()) s.charts.push_back(render(roof));

  Table table{.name = "sweep_points",
              .caption = "Every sweep point (newest measurement per key)",
              .columns = {"op", "key", "h x w x c", "median_ms", "p10_ms", "p90_ms", "GFLOP/s",
                          "FLOP/byte", "% of roofline", "run"}};
  for (const SweepPoint& p : data.sweep) {
    const double fraction = data.roofline && std::isfinite(p.intensity())
                                ? p.gflops() / data.roofline->attainable_gflops(p.intensity())
                                : kNoValue;
    table.rows.push_back({text_cell(p.op), text_cell(p.key), text_cell(shape_of(p)),
                          number_cell(p.median_ms, "{:.4f}"), number_cell(p.p10_ms, "{:.4f}"),
                          number_cell(p.p90_ms, "{:.4f}"), number_cell(p.gflops(), "{:.2f}"),
                          number_cell(p.intensity(), "{:.3g}"),
                          number_cell(100 * fraction, "{:.1f}"), integer_cell(p.run_id)});
  }
  s.tables.push_back(std::move(table));
  return s;
}

}  // namespace hwnas::reports
