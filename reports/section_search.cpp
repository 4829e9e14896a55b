// The search: every candidate (quality vs latency) with the Pareto front highlighted and joined,
// the front's hypervolume per generation, and the front as a table linked to each architecture's
// JSON. Several search runs overlay their fronts (a comparison).
#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "reports/report_sections.hpp"
#include "reports/svg_chart.hpp"

namespace hwnas::reports {
namespace {

std::string arch_anchor(const std::string& hash) { return "arch-" + hash; }

std::string candidate_tooltip(const CandidateRow& c, const ReportData& data) {
  const auto it = data.archs.find(c.arch_hash);
  return fmt::format(
      "run {} gen {} #{} {}\nlatency {:.4g} ms ({}{})\nquality {:.4g} ({})\nparams {:.3g} M, "
      "{:.3g} GFLOPs, rank {}{}\n{}",
      c.run_id, c.generation, c.idx, c.arch_hash, c.latency_ms, c.latency_source,
      std::isfinite(c.predicted_ms) ? fmt::format(", predicted {:.4g} ms", c.predicted_ms) : "",
      c.quality, c.quality_source, c.params / 1e6, c.flops / 1e9, c.rank,
      c.violation > 0 ? fmt::format(", over budget by {:.3g}", c.violation) : "",
      it != data.archs.end() ? summary(it->second) : "");
}

// Log when the values span a decade or more: latencies of a space often do.
Scale scale_for(const std::vector<double>& values) {
  double lo = std::numeric_limits<double>::infinity(), hi = 0;
  for (const double v : values) {
    if (std::isfinite(v) && v > 0) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  return hi > 0 && hi / lo >= 10 ? Scale::Log : Scale::Linear;
}

// The front sorted by latency, so its line runs left to right.
std::vector<FrontRow> sorted_front(std::vector<FrontRow> front) {
  std::sort(front.begin(), front.end(), [](const FrontRow& a, const FrontRow& b) {
    return a.latency_ms != b.latency_ms ? a.latency_ms < b.latency_ms : a.arch_hash < b.arch_hash;
  });
  return front;
}

}  // namespace

Section section_search(const ReportData& data) {
  Section s{.id = "search", .title = "Search: quality vs latency"};
  if (data.searches.empty()) {
    s.notes.push_back(
        data.runs.empty()
            ? fmt::format("No search run in this database: hwnas search{} runs one (hwnas search "
                          "--population 6 --generations 2 --policy quick for a quick look).",
                          db_flag(data))
            : fmt::format("None of the chosen runs is a search: hwnas runs{} --kind search lists "
                          "the searches to pass to --run.",
                          db_flag(data)));
    return s;
  }
  s.notes.push_back(kQualityNote);
  s.notes.push_back(
      "Every candidate any generation evaluated is one point (an architecture kept in the "
      "population "
      "appears once per generation that evaluated it); the Pareto front of the run is drawn larger "
      "and joined. Hover a point for its architecture; a front point links to its JSON.");
  XyChart scatter{.id = "search-scatter",
                  .title = "Candidates and Pareto front",
                  .x = {.label = "latency", .unit = "ms"},
                  .y = {.label = "quality", .unit = "NASWOT score, a proxy"}};
  XyChart progress{.id = "search-hypervolume",
                   .title = "Hypervolume of the front per generation",
                   .x = {.label = "generation"},
                   .y = {.label = "hypervolume", .unit = "of the run's objectives"}};
  std::vector<double> latencies;
  bool any_candidate = false;
  for (std::size_t k = 0; k < data.searches.size(); ++k) {
    const SearchRun& run = data.searches[k];
    const std::size_t color = k;
    XySeries all{.name = fmt::format("run {} candidates", run.run.id),
                 .color = color,
                 .radius = 3,
                 .opacity = 0.35};
    for (const CandidateRow& c : run.candidates) {
      all.points.push_back({c.latency_ms, c.quality, candidate_tooltip(c, data), ""});
      latencies.push_back(c.latency_ms);
      any_candidate = true;
    }
    XySeries front{.name = fmt::format("run {} Pareto front", run.run.id),
                   .style = SeriesStyle::LineMarkers,
                   .color = color,
                   .radius = 5.5,
                   .opacity = 1};
    for (const FrontRow& f : sorted_front(run.front)) {
      const auto it = data.archs.find(f.arch_hash);
      front.points.push_back(
          {f.latency_ms, f.quality,
           fmt::format("front #{} {}\nlatency {:.4g} ms ({})\nquality {:.4g} ({})\n{}", f.idx,
                       f.arch_hash, f.latency_ms, f.latency_source, f.quality, f.quality_source,
                       it != data.archs.end() ? summary(it->second) : ""),
           arch_anchor(f.arch_hash)});
      latencies.push_back(f.latency_ms);
    }
    if (!all.points.empty()) scatter.series.push_back(std::move(all));
    if (!front.points.empty()) scatter.series.push_back(std::move(front));
    XySeries hv{.name = fmt::format("run {}", run.run.id),
                .style = SeriesStyle::LineMarkers,
                .color = color};
    for (const SearchGeneration& g : run.generations) {
      hv.points.push_back({static_cast<double>(g.generation), g.hypervolume,
                           fmt::format("run {} generation {}: hypervolume {:.6g}, front {} of {} "
                                       "evaluated ({} cached)",
                                       run.run.id, g.generation, g.hypervolume, g.front_size,
                                       g.evaluations, g.cache_hits),
                           ""});
    }
    if (!hv.points.empty()) progress.series.push_back(std::move(hv));

    if (run.candidates.empty()) {
      s.notes.push_back(fmt::format(
          "Search run {} ({}) has no completed generation yet, so nothing to plot: hwnas search "
          "--resume {}{} continues it.",
          run.run.id, to_string(run.run.status), run.run.id, db_flag(data)));
    }
  }
  scatter.x.scale = scale_for(latencies);
  if (any_candidate) {
    s.charts.push_back(render(scatter));
    s.charts.push_back(render(progress));
  }

  for (const SearchRun& run : data.searches) {
    Table front{
        .name = fmt::format("front_run_{}", run.run.id),
        .caption = fmt::format("Pareto front of run {} ({} architectures), fastest first",
                               run.run.id, run.front.size()),
        .columns = {"#", "arch", "latency_ms", "latency source", "predicted_ms", "quality",
                    "quality source", "params_M", "GFLOPs", "stages (width x depth: mixers)"}};
    for (const FrontRow& f : sorted_front(run.front)) {
      const auto it = data.archs.find(f.arch_hash);
      front.rows.push_back({integer_cell(f.idx), text_cell(f.arch_hash),
                            number_cell(f.latency_ms, "{:.4f}"), text_cell(f.latency_source),
                            number_cell(f.predicted_ms, "{:.4f}"), number_cell(f.quality, "{:.3f}"),
                            text_cell(f.quality_source), number_cell(f.params / 1e6, "{:.3f}"),
                            number_cell(f.flops / 1e9, "{:.3f}"),
                            text_cell(it != data.archs.end() ? summary(it->second) : "?")});
      front.row_anchors.push_back(fmt::format("front-{}-{}", run.run.id, f.arch_hash));
      if (it != data.archs.end() &&
          std::none_of(s.details.begin(), s.details.end(),
                       [&](const Detail& d) { return d.anchor == arch_anchor(f.arch_hash); })) {
        s.details.push_back({.anchor = arch_anchor(f.arch_hash),
                             .summary = fmt::format("{} - {}", f.arch_hash, summary(it->second)),
                             .text = it->second.canonical_json});
      }
    }
    if (!front.rows.empty()) s.tables.push_back(std::move(front));
    Table gens{.name = fmt::format("generations_run_{}", run.run.id),
               .caption = fmt::format("Generations of run {}", run.run.id),
               .columns = {"generation", "hypervolume", "front size", "evaluated", "cache hits",
                           "measured checks", "predictor MAPE %"}};
    for (const SearchGeneration& g : run.generations) {
      gens.rows.push_back({integer_cell(g.generation), number_cell(g.hypervolume, "{:.6g}"),
                           integer_cell(g.front_size), integer_cell(g.evaluations),
                           integer_cell(g.cache_hits), integer_cell(g.measured_checks),
                           number_cell(100 * g.pred_mape, "{:.2f}")});
    }
    if (!gens.rows.empty()) s.tables.push_back(std::move(gens));
  }
  return s;
}

}  // namespace hwnas::reports
