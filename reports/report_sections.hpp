// Internal to reports/: a report is a list of sections, each built by its own file (section_*.cpp)
// as format-neutral content; html_report.cpp, markdown_report.cpp and csv_report.cpp only lay it
// out. So the three formats hold the same numbers, and a new section is one new file plus a line
// in sections().
#pragma once

#include <cmath>
#include <string>
#include <vector>

#include "reports/report_data.hpp"

namespace hwnas::reports {

// One table cell: the text every format shows, and the number behind it (NaN for text), which the
// CSV writes in full precision.
struct Cell {
  std::string text;
  double value = kNoValue;
};
Cell text_cell(std::string text);
// `value` shown with fmt's `spec` ("{:.3f}"); NaN shows "-".
Cell number_cell(double value, const char* spec = "{:.4g}");
Cell integer_cell(std::int64_t value);

struct Table {
  std::string name;  // stable, snake_case: the CSV's `table` column ("front_run_3")
  std::string caption;
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;
  std::vector<std::string> row_anchors;  // optional, one per row: the HTML row's id
};

// A preformatted block (an architecture's JSON) the HTML shows folded, under an anchor.
struct Detail {
  std::string anchor;
  std::string summary;
  std::string text;
};

struct Section {
  std::string id;  // the stable HTML id
  std::string title;
  // Plain-text paragraphs (escaped by each renderer). When the section has no data, the first says
  // so and which command produces it.
  std::vector<std::string> notes;
  std::vector<std::string> charts;  // inline SVG, HTML only
  std::vector<Table> tables;
  std::vector<Detail> details;  // HTML only
};

Section section_device(const ReportData& data);
Section section_search(const ReportData& data);
Section section_mixers(const ReportData& data);
Section section_layers(const ReportData& data);
Section section_predictor(const ReportData& data);
Section section_catalog(const ReportData& data);
Section section_claims(const ReportData& data);

// Every section, in the report's order.
std::vector<Section> sections(const ReportData& data);

// The sentence every plot of quality carries.
inline constexpr const char* kQualityNote =
    "Quality is the NASWOT score (Mellor et al. 2021), a zero-cost proxy computed on untrained "
    "shared "
    "weights: it ranks architectures, it is not an accuracy.";

// "--db X.db" for the commands a section suggests.
std::string db_flag(const ReportData& data);

}  // namespace hwnas::reports
