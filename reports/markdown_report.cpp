// The Markdown report: the same sections and numbers as tables (for a paper or a PR); charts are
// left to the HTML.
#include <fmt/format.h>

#include "reports/report.hpp"
#include "reports/report_sections.hpp"

namespace hwnas::reports {
namespace {

// A cell's text made safe inside a Markdown table: pipes escaped, line breaks as spaces.
std::string md_cell(std::string_view text) {
  std::string out;
  for (const char c : text) {
    if (c == '|') {
      out += "\\|";
    } else if (c == '\n') {
      out += ' ';
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace

std::string render_markdown(const ReportData& data) {
  std::string out = fmt::format("# hwnas report\n\nFrom `{}`, generated {} by {}.\n", data.db_path,
                                data.generated_at, data.generator);
  for (const Section& s : sections(data)) {
    out += fmt::format("\n<a id=\"{}\"></a>\n## {}\n\n", s.id, s.title);
    for (const std::string& n : s.notes) out += n + "\n\n";
    for (const Table& t : s.tables) {
      out += fmt::format("**{}**\n\n|", md_cell(t.caption));
      for (const std::string& c : t.columns) out += fmt::format(" {} |", md_cell(c));
      out += "\n|";
      for (std::size_t i = 0; i < t.columns.size(); ++i) out += "---|";
      out += "\n";
      for (const std::vector<Cell>& row : t.rows) {
        out += "|";
        for (const Cell& c : row) out += fmt::format(" {} |", md_cell(c.text));
        out += "\n";
      }
      out += "\n";
    }
  }
  return out;
}

}  // namespace hwnas::reports
