// Per-layer breakdown of measured architectures (`hwnas bench --layers`): where the time goes, as
// stacked bars by layer kind (mixers split by their op).
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "reports/report_sections.hpp"
#include "reports/svg_chart.hpp"

namespace hwnas::reports {
namespace {

// The group a layer's time is stacked under: its kind, and for a mixer its op ("mixer:dwconv").
std::string group_of(const LayerTime& l) {
  if (l.kind != "mixer") return l.kind;
  return fmt::format("mixer:{}", parse_op_key(l.key).first);
}

std::string label_of(const ArchBench& b) {
  const std::string name = b.name.empty() ? b.hash : b.name;
  return fmt::format("{} b{} r{}", name, b.batch, b.resolution);
}

}  // namespace

Section section_layers(const ReportData& data) {
  Section s{.id = "layers", .title = "Per-layer breakdown"};
  std::vector<const ArchBench*> benches;
  for (const ArchBench& b : data.front_benches) {
    if (!b.layers.empty()) benches.push_back(&b);
  }
  for (const ArchBench& b : data.catalog) {
    if (!b.layers.empty() && std::find(benches.begin(), benches.end(), &b) == benches.end()) {
      bool dup = false;
      for (const ArchBench* seen : benches) dup = dup || seen->measurement_id == b.measurement_id;
      if (!dup) benches.push_back(&b);
    }
  }
  if (benches.empty()) {
    s.notes.push_back(fmt::format(
        "No per-layer times in this database: hwnas bench poolformer_s12 --layers{} times each "
        "layer of a catalog model, and hwnas bench ARCH.json --layers{} of a front member (its "
        "JSON "
        "is under the search section).",
        db_flag(data), db_flag(data)));
    return s;
  }
  s.notes.push_back(
      "Each layer timed alone on its input under the same protocol; bars stack the medians by "
      "layer kind (mixers by op). Layers alone need not sum to the whole forward (caches, "
      "fusion).");
  std::vector<std::string> groups;  // in first-seen order: stem first, head last
  std::vector<std::map<std::string, double>> per_arch;
  for (const ArchBench* b : benches) {
    std::map<std::string, double> sums;
    for (const LayerTime& l : b->layers) {
      const std::string g = group_of(l);
      if (std::find(groups.begin(), groups.end(), g) == groups.end()) groups.push_back(g);
      sums[g] += l.median_ms;
    }
    per_arch.push_back(std::move(sums));
  }
  StackedBarChart chart{.id = "layers-bars",
                        .title = "Where the time goes (sum of per-layer medians)",
                        .y = {.label = "time", .unit = "ms"}};
  for (const ArchBench* b : benches) chart.categories.push_back(label_of(*b));
  for (const std::string& g : groups) {
    BarStack stack{.name = g};
    for (const auto& sums : per_arch) {
      const auto it = sums.find(g);
      stack.values.push_back(it == sums.end() ? 0.0 : it->second);
    }
    chart.stacks.push_back(std::move(stack));
  }
  s.charts.push_back(render(chart));

  Table table{.name = "layer_groups",
              .caption = "Time per layer group (ms, sum of the layers' medians) and share",
              .columns = {"arch", "hash", "run", "end-to-end median_ms", "group", "ms", "share %"}};
  for (std::size_t i = 0; i < benches.size(); ++i) {
    double total = 0;
    for (const auto& [g, ms] : per_arch[i]) total += ms;
    for (const std::string& g : groups) {
      const auto it = per_arch[i].find(g);
      if (it == per_arch[i].end()) continue;
      table.rows.push_back({text_cell(label_of(*benches[i])), text_cell(benches[i]->hash),
                            integer_cell(benches[i]->run_id),
                            number_cell(benches[i]->median_ms, "{:.4f}"), text_cell(g),
                            number_cell(it->second, "{:.4f}"),
                            number_cell(100 * it->second / total, "{:.1f}")});
    }
  }
  s.tables.push_back(std::move(table));
  return s;
}

}  // namespace hwnas::reports
