// A report of a store: one self-contained HTML file (inline SVG charts, no scripts, fonts or
// network), Markdown tables, or one long-format CSV - each a pure function of ReportData
// (report_data.hpp).
//
// Every format holds the same sections, in this order, with stable ids: device, search, mixers,
// layers, predictor, catalog, claims. A section without data says which command produces it.
//
// CSV: one file, long format, one value per line: section,table,row,column,value (RFC 4180
// quoting). `row` is the row's 0-based index in its table; numbers are written in full precision
// (shortest round trip), text as shown in the HTML and Markdown tables. One file keeps the report
// one artefact that is written atomically; a pivot (pandas, R, a spreadsheet) gets any table back.
#pragma once

#include <string>

#include "reports/report_data.hpp"

namespace hwnas::reports {

enum class ReportFormat { Html, Markdown, Csv };

std::string render_html(const ReportData& data);
std::string render_markdown(const ReportData& data);
std::string render_csv(const ReportData& data);
std::string render(const ReportData& data, ReportFormat format);

}  // namespace hwnas::reports
