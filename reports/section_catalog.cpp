// Published designs (the catalog) measured on this device beside the searched front: did the search
// beat them here? Compared on latency and cost (their NASWOT score is not computed: catalog models
// are outside the search space's shared weights).
#include <fmt/format.h>

#include "reports/report_sections.hpp"
#include "reports/svg_chart.hpp"

namespace hwnas::reports {

Section section_catalog(const ReportData& data) {
  Section s{.id = "catalog", .title = "Catalog models on this device"};
  if (data.catalog.empty()) {
    s.notes.push_back(fmt::format(
        "No catalog model measured on this device: hwnas bench swin_t{0} (or convnext_t, "
        "poolformer_s12, ...; add --layers for the breakdown) measures one; use the search's "
        "--batch and --res to compare with its front.",
        db_flag(data)));
    return s;
  }
  // The search's batch and resolution, for the fairness flag.
  std::string search_shape;
  if (!data.searches.empty()) {
    std::string batch = "?", res = "?";
    for (const auto& [key, value] : data.searches.front().settings) {
      if (key == "batch") batch = value;
      if (key == "res") res = value;
    }
    search_shape = fmt::format("b{} r{}", batch, res);
  }
  s.notes.push_back(
      "Latency against GFLOPs: catalog models and the search fronts on the same axes. Only rows at "
      "the "
      "search's batch and resolution compare like with like (the table flags the others).");
  XyChart chart{.id = "catalog-scatter",
                .title = "Catalog models beside the searched front",
                .x = {.label = "latency", .unit = "ms"},
                .y = {.label = "compute", .unit = "GFLOPs per forward"}};
  XySeries models{.name = "catalog models", .radius = 6, .opacity = 1};
  double lo = 0, hi = 0;
  const auto span = [&](double v) {
    lo = lo == 0 ? v : std::min(lo, v);
    hi = std::max(hi, v);
  };
  for (const ArchBench& b : data.catalog) {
    models.points.push_back(
        {b.median_ms, b.flops / 1e9,
         fmt::format("{} (batch {}, res {}, {} threads)\nmedian {:.4g} ms\n{:.3g} "
                     "GFLOPs, {:.3g} M params",
                     b.name, b.batch, b.resolution, b.threads, b.median_ms, b.flops / 1e9,
                     b.params / 1e6),
         "", b.name});
    span(b.median_ms);
  }
  chart.series.push_back(std::move(models));
  for (std::size_t k = 0; k < data.searches.size(); ++k) {
    const SearchRun& run = data.searches[k];
    XySeries front{.name = fmt::format("run {} front", run.run.id), .color = k + 1};
    for (const FrontRow& f : run.front) {
      front.points.push_back({f.latency_ms, f.flops / 1e9,
                              fmt::format("front of run {}: {}\n{:.4g} ms, {:.3g} GFLOPs",
                                          run.run.id, f.arch_hash, f.latency_ms, f.flops / 1e9),
                              "arch-" + f.arch_hash});
      span(f.latency_ms);
    }
    if (!front.points.empty()) chart.series.push_back(std::move(front));
  }
  if (lo > 0 && hi / lo >= 10) chart.x.scale = Scale::Log;
  s.charts.push_back(render(chart));

  Table table{
      .name = "catalog_models",
      .caption = "Catalog models measured on this device (newest per name, batch and resolution)",
      .columns = {"model", "batch", "res", "threads", "median_ms", "p10_ms", "p90_ms", "params_M",
                  "GFLOPs", "run", "same shape as the search"}};
  for (const ArchBench& b : data.catalog) {
    const std::string shape = fmt::format("b{} r{}", b.batch, b.resolution);
    table.rows.push_back({text_cell(b.name), integer_cell(b.batch), integer_cell(b.resolution),
                          integer_cell(b.threads), number_cell(b.median_ms, "{:.4f}"),
                          number_cell(b.p10_ms, "{:.4f}"), number_cell(b.p90_ms, "{:.4f}"),
                          number_cell(b.params / 1e6, "{:.3f}"),
                          number_cell(b.flops / 1e9, "{:.3f}"), integer_cell(b.run_id),
                          text_cell(search_shape.empty()    ? "-"
                                    : shape == search_shape ? "yes"
                                                            : fmt::format("no ({} vs search {})",
                                                                          shape, search_shape))});
  }
  s.tables.push_back(std::move(table));
  return s;
}

}  // namespace hwnas::reports
