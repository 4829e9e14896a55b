// The HTML report: one self-contained file (inline CSS and SVG; no script, font or network),
// readable at 1280 px. The sections come from report_sections.hpp; this file only lays them out.
#include <fmt/format.h>

#include "reports/report.hpp"
#include "reports/report_sections.hpp"
#include "reports/svg_chart.hpp"

namespace hwnas::reports {
namespace {

constexpr const char* kStyle = R"css(
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #222;
       margin: 0 auto; max-width: 1200px; padding: 16px 24px 48px; background: #fff; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 32px 0 8px; border-bottom: 2px solid #0072B2; padding-bottom: 3px; }
nav a { margin-right: 14px; }
p.meta { color: #555; margin: 0 0 8px; }
p.note { max-width: 1000px; }
table { border-collapse: collapse; margin: 8px 0 18px; font-size: 12.5px; }
caption { text-align: left; font-weight: 600; padding: 4px 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: left; vertical-align: top; }
th { background: #f3f5f8; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
tr:target { background: #fff4c2; }
svg.chart { display: block; margin: 10px 0 18px; background: #fff; border: 1px solid #e3e3e3; }
svg .title { font-size: 15px; font-weight: 600; }
svg .tick { font-size: 11px; fill: #444; }
svg .axis-title { font-size: 12.5px; fill: #222; }
svg .grid { stroke: #ececec; }
svg .frame { stroke: #999; }
svg .legend text { font-size: 11.5px; }
svg .point-label { font-size: 11px; fill: #222; }
svg .note { font-size: 11px; fill: #a00; }
details { margin: 4px 0; }
details:target { background: #fff4c2; }
pre { white-space: pre-wrap; word-break: break-all; font-size: 11px; background: #f7f7f7; padding: 6px; }
)css";

std::string escape(std::string_view text) { return escape_xml(text); }

std::string table_html(const Table& t) {
  std::string out = fmt::format("<table id=\"table-{}\"><caption>{}</caption><thead><tr>",
                                escape(t.name), escape(t.caption));
  for (const std::string& c : t.columns) out += fmt::format("<th>{}</th>", escape(c));
  out += "</tr></thead><tbody>";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    out +=
        r < t.row_anchors.size() ? fmt::format("<tr id=\"{}\">", escape(t.row_anchors[r])) : "<tr>";
    for (const Cell& c : t.rows[r]) {
      out += fmt::format("<td{}>{}</td>", std::isfinite(c.value) ? " class=\"num\"" : "",
                         escape(c.text));
    }
    out += "</tr>";
  }
  return out + "</tbody></table>";
}

}  // namespace

std::string render_html(const ReportData& data) {
  const std::vector<Section> all = sections(data);
  std::string title = "hwnas report";
  if (!data.runs.empty()) {
    std::vector<std::string> ids;
    for (const RunRow& r : data.runs) ids.push_back(fmt::format("{} {}", r.kind, r.id));
    title += fmt::format(" - {}", fmt::join(ids, ", "));
  }
  std::string out = fmt::format(
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
      "<title>{}</title><style>{}</style></head><body>\n<h1>{}</h1>\n",
      escape(title), kStyle, escape(title));
  out += fmt::format(
      "<p class=\"meta\">From {} - generated {} by {}. Hover a point for its values.</p>\n",
      escape(data.db_path), escape(data.generated_at), escape(data.generator));
  out += "<nav>";
  for (const Section& s : all) out += fmt::format("<a href=\"#{}\">{}</a>", s.id, escape(s.title));
  out += "</nav>\n";
  for (const Section& s : all) {
    out += fmt::format("<section id=\"{}\">\n<h2>{}</h2>\n", escape(s.id), escape(s.title));
    for (const std::string& n : s.notes)
      out += fmt::format("<p class=\"note\">{}</p>\n", escape(n));
    for (const std::string& svg : s.charts) out += svg + "\n";
    for (const Table& t : s.tables) out += table_html(t) + "\n";
    for (const Detail& d : s.details) {
      out += fmt::format("<details id=\"{}\"><summary>{}</summary><pre>{}</pre></details>\n",
                         escape(d.anchor), escape(d.summary), escape(d.text));
    }
    out += "</section>\n";
  }
  return out + "</body></html>\n";
}

std::string render(const ReportData& data, ReportFormat format) {
  switch (format) {
    case ReportFormat::Html:
      return render_html(data);
    case ReportFormat::Markdown:
      return render_markdown(data);
    case ReportFormat::Csv:
      return render_csv(data);
  }
  return {};
}

}  // namespace hwnas::reports
