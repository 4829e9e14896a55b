// The claims section: from hand-made claim results to its table and its claimed-vs-measured plot.
#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "reports/report_sections.hpp"

namespace hwnas::reports {
namespace {

ClaimResultRow row(std::string id, std::string verdict, double claimed, double measured) {
  return {.run_id = 3,
          .claim_id = std::move(id),
          .models = {"fasternet_t2", "convnext_t"},
          .metric = "latency",
          .unit = "x",
          .device = "Intel Core i9-9900X",
          .device_class = "cpu_x86",
          .claimed = claimed,
          .measured = measured,
          .ci_low = std::isnan(measured) ? kNoValue : measured * 0.95,
          .ci_high = std::isnan(measured) ? kNoValue : measured * 1.05,
          .quotient = std::isnan(measured) ? kNoValue : measured / claimed,
          .rounds = std::isnan(measured) ? 0 : 8,
          .tolerance = 0.1,
          .verdict = std::move(verdict),
          .reason = "because"};
}

TEST(SectionClaims, TableOfEveryClaimAndAPlotOfTheMeasuredRatios) {
  ReportData data;
  data.claims_run = RunRow{.id = 3, .kind = "reproduce"};
  data.claims = {row("C097/C112", "holds", 2.58, 2.44),
                 row("C112/C115", "does_not_hold", 1.42, 1.03),
                 row("C029", "other_device_class", 1.47, kNoValue)};
  const Section s = section_claims(data);
  EXPECT_EQ(s.id, "claims");
  ASSERT_EQ(s.tables.size(), 1u);
  ASSERT_EQ(s.tables[0].rows.size(), 3u);
  EXPECT_EQ(s.tables[0].rows[2][1].text, "other_device_class");
  EXPECT_EQ(s.tables[0].row_anchors[0], "claim-C097/C112");
  ASSERT_EQ(s.charts.size(), 1u);
  EXPECT_NE(s.charts[0].find("C097/C112"), std::string::npos);
  EXPECT_EQ(s.charts[0].find("C029"), std::string::npos);  // not measured: not plotted
  EXPECT_NE(s.notes[0].find("Run 3"), std::string::npos);
  EXPECT_NE(s.notes[0].find("within 10 %"), std::string::npos);
}

TEST(SectionClaims, WithoutARunSaysWhichCommandMeasures) {
  ReportData data;
  const Section s = section_claims(data);
  EXPECT_TRUE(s.tables.empty());
  ASSERT_FALSE(s.notes.empty());
  EXPECT_NE(s.notes[0].find("run hwnas reproduce"), std::string::npos);
}

}  // namespace
}  // namespace hwnas::reports
