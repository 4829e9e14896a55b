#include "reports/report_sections.hpp"

#include <fmt/format.h>

namespace hwnas::reports {

Cell text_cell(std::string text) { return {.text = std::move(text)}; }

Cell number_cell(double value, const char* spec) {
  if (!std::isfinite(value)) return {.text = "-"};
  return {.text = fmt::format(fmt::runtime(spec), value), .value = value};
}

Cell integer_cell(std::int64_t value) {
  return {.text = fmt::format("{}", value), .value = static_cast<double>(value)};
}

std::string db_flag(const ReportData& data) {
  return data.db_path.empty() ? std::string() : fmt::format(" --db {}", data.db_path);
}

std::vector<Section> sections(const ReportData& data) {
  return {section_device(data), section_search(data),    section_mixers(data),
          section_layers(data), section_predictor(data), section_catalog(data),
          section_claims(data)};
}

}  // namespace hwnas::reports
