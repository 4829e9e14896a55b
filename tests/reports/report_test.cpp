#include "reports/report.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "kernels/error.hpp"
#include "reports/report_data.hpp"
#include "tests/reports/report_fixture.hpp"

namespace hwnas::reports {
namespace {

using hwnas::testing::Circle;
using hwnas::testing::circles;
using hwnas::testing::section_html;
using hwnas::testing::TempDir;

const std::vector<std::string> kSectionIds = {"device",    "search",  "mixers", "layers",
                                              "predictor", "catalog", "claims"};

class ReportTest : public ::testing::Test {
 protected:
  TempDir dir_;
  Store store_ = Store::open(dir_.file("r.db"));
};

TEST_F(ReportTest, EverySectionIsPresentInEveryFormat) {
  hwnas::testing::fill_sample_store(store_);
  const ReportData data = load_report_data(store_, {});
  const std::string html = render_html(data), md = render_markdown(data), csv = render_csv(data);
  for (const std::string& id : kSectionIds) {
    EXPECT_NE(html.find(fmt::format("<section id=\"{}\">", id)), std::string::npos) << id;
    EXPECT_NE(md.find(fmt::format("<a id=\"{}\"></a>", id)), std::string::npos) << id;
  }
  // Self-contained: no script, no external reference.
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("http://w"), html.find("http://www.w3.org/2000/svg"));
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_NE(html.find("zero-cost proxy"), std::string::npos);
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "section,table,row,column,value");
}

TEST_F(ReportTest, SearchScatterHasOnePointPerStoredCandidateWithItsValues) {
  const hwnas::testing::SampleStore s = hwnas::testing::fill_sample_store(store_);
  const ReportData data = load_report_data(store_, {.run_ids = {s.search}});
  ASSERT_EQ(data.searches.size(), 1u);
  const std::string html = section_html(render_html(data), "search");
  const std::vector<CandidateRow> stored = store_.candidates(s.search);
  const std::vector<Circle> points = circles(html, fmt::format("run {} candidates", s.search));
  ASSERT_EQ(points.size(), stored.size());
  for (std::size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(points[i].x, stored[i].latency_ms) << i;
    EXPECT_EQ(points[i].y, stored[i].quality) << i;
    EXPECT_NE(points[i].tooltip.find(stored[i].arch_hash), std::string::npos) << points[i].tooltip;
    EXPECT_NE(
        points[i].tooltip.find(fmt::format("gen {} #{}", stored[i].generation, stored[i].idx)),
        std::string::npos);
  }
  // The front: one point per front row, joined by one line through all of them, fastest first.
  const std::vector<FrontRow> front = store_.front(s.search);
  const std::string series = fmt::format("run {} Pareto front", s.search);
  const std::vector<Circle> front_points = circles(html, series);
  ASSERT_EQ(front_points.size(), front.size());
  for (std::size_t i = 1; i < front_points.size(); ++i)
    EXPECT_LE(front_points[i - 1].x, front_points[i].x);
  const std::regex line(
      fmt::format(R"re(<path class="line" data-series="{}" d="([^"]+)")re", series));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(html, m, line));
  const std::string path = m[1].str();
  EXPECT_EQ(std::count(path.begin(), path.end(), 'L'), static_cast<long>(front.size() - 1));
  // Each front point links to its architecture's JSON, which the report holds.
  for (const FrontRow& f : front) {
    EXPECT_NE(html.find(fmt::format("<a href=\"#arch-{}\">", f.arch_hash)), std::string::npos);
    EXPECT_NE(html.find(fmt::format("<details id=\"arch-{}\">", f.arch_hash)), std::string::npos);
  }
  EXPECT_NE(html.find("NASWOT"), std::string::npos);
  // The hypervolume chart: one point per generation.
  EXPECT_EQ(circles(html, fmt::format("run {}", s.search)).size(),
            store_.generations(s.search).size());
}

TEST_F(ReportTest, MarkdownAndCsvHoldTheSameNumbers) {
  const hwnas::testing::SampleStore s = hwnas::testing::fill_sample_store(store_);
  const ReportData data = load_report_data(store_, {});
  const std::string md = render_markdown(data), csv = render_csv(data), html = render_html(data);
  for (const FrontRow& f : store_.front(s.search)) {
    const std::string shown = fmt::format("{:.4f}", f.latency_ms);
    EXPECT_NE(md.find(fmt::format("| {} |", shown)), std::string::npos) << shown;
    EXPECT_NE(html.find(fmt::format(">{}</td>", shown)), std::string::npos) << shown;
    EXPECT_NE(csv.find(fmt::format("search,front_run_{},", s.search)), std::string::npos);
    EXPECT_NE(csv.find(fmt::format(",latency_ms,{}\n", f.latency_ms)), std::string::npos)
        << f.latency_ms;
    EXPECT_NE(csv.find(fmt::format(",quality,{}\n", f.quality)), std::string::npos) << f.quality;
  }
  for (const SweepPoint& p : data.sweep) {
    EXPECT_NE(md.find(fmt::format("| {:.4f} |", p.median_ms)), std::string::npos) << p.key;
    EXPECT_NE(csv.find(fmt::format(",median_ms,{}\n", p.median_ms)), std::string::npos) << p.key;
  }
}

TEST_F(ReportTest, SweepsRooflineLayersPredictorAndCatalogAreRead) {
  const hwnas::testing::SampleStore s = hwnas::testing::fill_sample_store(store_);
  const ReportData data = load_report_data(store_, {});
  EXPECT_EQ(data.sweep.size(), 7u);
  ASSERT_TRUE(data.roofline.has_value());
  EXPECT_EQ(data.roofline->peak_gflops, 150.5);
  ASSERT_EQ(data.catalog.size(), 1u);
  EXPECT_EQ(data.catalog[0].name, "poolformer_s12");
  EXPECT_EQ(data.catalog[0].layers.size(), 4u);
  EXPECT_EQ(data.catalog[0].resolution, 64);
  // Every third candidate is measured with a prediction; pairs are per arch and run.
  std::set<std::string> measured;
  for (const CandidateRow& c : store_.candidates(s.search)) {
    if (c.latency_source == "measured") measured.insert(c.arch_hash);
  }
  for (const FrontRow& f : store_.front(s.search)) measured.insert(f.arch_hash);
  EXPECT_EQ(data.predictor.size(), measured.size());
  const std::string html = render_html(data);
  EXPECT_NE(section_html(html, "mixers").find("id=\"mixers-scaling\""), std::string::npos);
  EXPECT_NE(section_html(html, "mixers").find("roofline: 20 GB/s DRAM"), std::string::npos);
  // The ladder series: three map sizes of each block.
  EXPECT_EQ(circles(html, "window_attention c=32,heads=2,window=4").size(), 3u);
  EXPECT_NE(section_html(html, "layers").find("data-stack=\"mixer:pool_mixer\""),
            std::string::npos);
  EXPECT_NE(section_html(html, "predictor").find("class=\"identity\""), std::string::npos);
  EXPECT_NE(section_html(html, "predictor").find("MAPE"), std::string::npos);
  EXPECT_NE(section_html(html, "catalog").find(">poolformer_s12</text>"), std::string::npos);
  EXPECT_NE(section_html(html, "claims").find("run hwnas reproduce"), std::string::npos);
}

TEST_F(ReportTest, AnEmptyDatabaseSaysWhatProducesEachSection) {
  const ReportData data = load_report_data(store_, {});
  const std::string html = render_html(data);
  EXPECT_EQ(html.find("<svg"), std::string::npos) << "no chart without data";
  EXPECT_NE(section_html(html, "device").find("holds no run"), std::string::npos);
  EXPECT_NE(section_html(html, "search").find("hwnas search"), std::string::npos);
  EXPECT_NE(section_html(html, "mixers").find("hwnas sweep --grid bench/grids/mixers.json"),
            std::string::npos);
  EXPECT_NE(section_html(html, "layers").find("--layers"), std::string::npos);
  EXPECT_NE(section_html(html, "predictor").find("--latency lut"), std::string::npos);
  EXPECT_NE(section_html(html, "catalog").find("hwnas bench swin_t"), std::string::npos);
}

TEST_F(ReportTest, ARunWithoutGenerationsGetsAMessageNotAnEmptyChart) {
  const std::int64_t device = store_.upsert_device("cpu:test", "{}");
  std::mt19937_64 rng(3);
  std::vector<std::string> hashes;
  const std::int64_t run = hwnas::testing::add_search(store_, device, rng, hashes, 0, 4, false);
  const std::string html =
      section_html(render_html(load_report_data(store_, {.run_ids = {run}})), "search");
  EXPECT_NE(html.find(fmt::format("Search run {} (running) has no completed generation yet", run)),
            std::string::npos)
      << html;
  EXPECT_EQ(html.find("<svg"), std::string::npos);
}

TEST_F(ReportTest, SeveralRunsAreOverlaidWithALegend) {
  const hwnas::testing::SampleStore s = hwnas::testing::fill_sample_store(store_);
  std::mt19937_64 rng(9);
  std::vector<std::string> hashes = s.hashes;
  const std::int64_t second = hwnas::testing::add_search(store_, s.device, rng, hashes, 3, 5);
  const ReportData data = load_report_data(store_, {.run_ids = {s.search, second}});
  ASSERT_EQ(data.searches.size(), 2u);
  const std::string html = section_html(render_html(data), "search");
  for (const std::int64_t run : {s.search, second}) {
    EXPECT_EQ(circles(html, fmt::format("run {} candidates", run)).size(),
              store_.candidates(run).size());
    EXPECT_NE(html.find(fmt::format(">run {} Pareto front</text>", run)), std::string::npos);
    EXPECT_NE(html.find(fmt::format("id=\"table-front_run_{}\"", run)), std::string::npos);
  }
}

TEST_F(ReportTest, AMissingRunIsNamedWithWhereToLook) {
  hwnas::testing::fill_sample_store(store_);
  try {
    load_report_data(store_, {.run_ids = {77}});
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(
                  fmt::format("no run 77 in {}; hwnas runs lists them", store_.path())),
              std::string::npos)
        << e.what();
  }
}

TEST(ReportData, ReadsOpKeysAndArchStages) {
  const auto [op, fields] = parse_op_key("window_attention:n=1,h=56,w=56,c=96,heads=3");
  EXPECT_EQ(op, "window_attention");
  ASSERT_EQ(fields.size(), 5u);
  EXPECT_EQ(fields[1], (std::pair<std::string, std::string>{"h", "56"}));
  const std::vector<StageSummary> stages =
      stage_summaries(hwnas::testing::small_arch_json("dwconv", 48, 3));
  ASSERT_EQ(stages.size(), 1u);
  EXPECT_EQ(stages[0].width, 48);
  EXPECT_EQ(stages[0].depth, 3);
  EXPECT_EQ(stages[0].mlp_ratios[0], 4);
  EXPECT_EQ(summary(ArchInfo{.stages = stages}), "48x3 dwconv x3");
  EXPECT_TRUE(stage_summaries("not json").empty());
  EXPECT_NEAR(mape({{1, "a", 1.1, 1.0}, {1, "b", 1.8, 2.0}}), 0.1, 1e-12);
}

}  // namespace
}  // namespace hwnas::reports
