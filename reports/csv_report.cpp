// The CSV report: one long-format file, section,table,row,column,value (report.hpp says why).
#include <fmt/format.h>

#include "reports/report.hpp"
#include "reports/report_sections.hpp"

namespace hwnas::reports {
namespace {

// RFC 4180: a field with a comma, quote or line break is quoted, its quotes doubled.
std::string csv_field(std::string_view text) {
  if (text.find_first_of(",\"\n\r") == std::string_view::npos) return std::string(text);
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

}  // namespace

std::string render_csv(const ReportData& data) {
  std::string out = "section,table,row,column,value\n";
  for (const Section& s : sections(data)) {
    for (const Table& t : s.tables) {
      for (std::size_t r = 0; r < t.rows.size(); ++r) {
        for (std::size_t c = 0; c < t.rows[r].size() && c < t.columns.size(); ++c) {
          const Cell& cell = t.rows[r][c];
          // Numbers in full precision (shortest round trip), text as shown.
          const std::string value =
              std::isfinite(cell.value) ? fmt::format("{}", cell.value) : cell.text;
          out += fmt::format("{},{},{},{},{}\n", s.id, csv_field(t.name), r,
                             csv_field(t.columns[c]), csv_field(value));
        }
      }
    }
  }
  return out;
}

}  // namespace hwnas::reports
