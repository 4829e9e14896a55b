// The claims section: measured vs published speed ratios (`hwnas reproduce`). Until that command
// stores its results, the section says how to produce them; its renderer replaces this file.
#include <fmt/format.h>

#include "reports/report_sections.hpp"

namespace hwnas::reports {

Section section_claims(const ReportData& data) {
  return {.id = "claims",
          .title = "Paper speed claims",
          .notes = {fmt::format("No claims measured in this database; run hwnas reproduce{} to "
                                "measure the bundled claims ledger on this device.",
                                db_flag(data))}};
}

}  // namespace hwnas::reports
