// The predictor section from stored predictor points of `hwnas lut` (hand-made rows, nothing
// timed), alone and beside a search's checked candidates.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <set>

#include "reports/report.hpp"
#include "reports/report_data.hpp"
#include "tests/reports/report_fixture.hpp"

namespace hwnas::reports {
namespace {

using hwnas::testing::Circle;
using hwnas::testing::circles;
using hwnas::testing::section_html;
using hwnas::testing::small_arch_json;
using hwnas::testing::TempDir;

std::size_t all_circles(const std::string& svg) {
  std::size_t n = 0;
  for (std::size_t at = svg.find("<circle class=\"pt\""); at != std::string::npos;
       at = svg.find("<circle class=\"pt\"", at + 1)) {
    ++n;
  }
  return n;
}

// A lut run of `device` with `held_out` trusted held-out points, `contended` contended ones and
// two calibration points, each over its own stored arch. Returns the run and its rows.
struct LutRun {
  std::int64_t id = 0;
  std::vector<PredictorPointRow> points;
  std::vector<PredictorPointRow> shown() const {  // what the section plots, in order
    std::vector<PredictorPointRow> out;
    for (const PredictorPointRow& p : points) {
      if (p.role == "held_out" && !p.contended) out.push_back(p);
    }
    return out;
  }
};

LutRun add_lut_run(Store& store, std::int64_t device, int held_out, int contended,
                   RunStatus status = RunStatus::Finished) {
  static int next = 0;
  LutRun run{.id = store.begin_run({.kind = "lut",
                                    .device_id = device,
                                    .config_json = R"({"space":"s.json","samples":4})"})};
  const int total = 2 + held_out + contended;
  for (int i = 0; i < total; ++i) {
    const std::string hash = fmt::format("{:016x}", 0x1a7000 + next);
    store.upsert_arch({.hash = hash,
                       .canonical_json = small_arch_json("dwconv", 32, 1 + next % 3),
                       .name = "sub"});
    ++next;
    const double layer_sum = 0.5 + 0.25 * i;
    run.points.push_back({.run_id = run.id,
                          .arch_hash = hash,
                          .role = i < 2 ? "calibrate" : "held_out",
                          .predicted_ms = layer_sum * 1.125,
                          .layer_sum_ms = layer_sum,
                          .n_layers = 12,
                          .measured_ms = layer_sum * (i % 2 ? 1.25 : 1.0625),
                          .contended = i >= 2 + held_out});
    store.add_predictor_points(std::vector{run.points.back()});
  }
  if (status != RunStatus::Running) store.finish_run(run.id, status);
  return run;
}

class SectionPredictor : public ::testing::Test {
 protected:
  TempDir dir_;
  Store store_ = Store::open(dir_.file("r.db"));
};

TEST_F(SectionPredictor, ALutRunAloneShowsOnePointPerTrustedHeldOutSubnet) {
  const std::int64_t device = store_.upsert_device("cpu:test", "{}");
  const LutRun lut = add_lut_run(store_, device, 3, 1);
  // No search in the store: the report still finds the device's lut run.
  for (const ReportRequest& request : {ReportRequest{}, ReportRequest{.run_ids = {lut.id}}}) {
    const ReportData data = load_report_data(store_, request);
    ASSERT_EQ(data.predictor.size(), 3u);
    EXPECT_EQ(data.predictor_contended, 1);
    EXPECT_EQ(data.predictor_lut_runs, std::vector<std::int64_t>{lut.id});
    const std::string html = section_html(render_html(data), "predictor");
    const std::vector<Circle> points =
        circles(html, fmt::format("hwnas lut run {} held-out", lut.id));
    const std::vector<PredictorPointRow> shown = lut.shown();
    ASSERT_EQ(points.size(), shown.size()) << html;
    EXPECT_EQ(all_circles(html), shown.size());
    for (std::size_t i = 0; i < shown.size(); ++i) {
      EXPECT_EQ(points[i].x, shown[i].predicted_ms) << i;
      EXPECT_EQ(points[i].y, shown[i].measured_ms) << i;
      EXPECT_NE(points[i].tooltip.find(shown[i].arch_hash), std::string::npos);
    }
    EXPECT_NE(html.find(fmt::format("held-out subnets of hwnas lut run {} (3, MAPE", lut.id)),
              std::string::npos)
        << html;
    EXPECT_NE(html.find("1 held-out subnet(s) of hwnas lut measured while other processes"),
              std::string::npos);
    EXPECT_NE(html.find("class=\"identity\""), std::string::npos);
    EXPECT_EQ(html.find("search run"), std::string::npos);
    // The same numbers in the Markdown and the CSV.
    const std::string md = render_markdown(data), csv = render_csv(data);
    for (const PredictorPointRow& p : shown) {
      EXPECT_NE(md.find(fmt::format("| {} | lut held-out | {} | {:.4f} |", lut.id, p.arch_hash,
                                    p.predicted_ms)),
                std::string::npos)
          << md;
      EXPECT_NE(csv.find(fmt::format(",measured_ms,{}\n", p.measured_ms)), std::string::npos);
    }
    EXPECT_NE(csv.find("predictor,predictor_pairs,0,source,lut held-out\n"), std::string::npos)
        << csv;
  }
}

TEST_F(SectionPredictor, ASearchAndALutRunAreTwoSeries) {
  const hwnas::testing::SampleStore s = hwnas::testing::fill_sample_store(store_);
  const LutRun lut = add_lut_run(store_, s.device, 4, 0);
  // A lut run of another device is not this report's.
  add_lut_run(store_, store_.upsert_device("cpu:other", "{}"), 2, 0);
  const ReportData data = load_report_data(store_, {});  // the newest search
  ASSERT_EQ(data.runs.size(), 1u);
  EXPECT_EQ(data.runs[0].id, s.search);
  std::set<std::string> checked;
  for (const CandidateRow& c : store_.candidates(s.search)) {
    if (c.latency_source == "measured") checked.insert(c.arch_hash);
  }
  for (const FrontRow& f : store_.front(s.search)) checked.insert(f.arch_hash);
  ASSERT_EQ(data.predictor.size(), checked.size() + 4);
  EXPECT_EQ(data.predictor_lut_runs, std::vector<std::int64_t>{lut.id});

  const std::string html = section_html(render_html(data), "predictor");
  EXPECT_EQ(circles(html, fmt::format("search run {} checks", s.search)).size(), checked.size());
  const std::vector<Circle> lut_points =
      circles(html, fmt::format("hwnas lut run {} held-out", lut.id));
  ASSERT_EQ(lut_points.size(), 4u);
  EXPECT_EQ(lut_points[0].x, lut.shown()[0].predicted_ms);
  EXPECT_EQ(all_circles(html), checked.size() + 4);
  // Both are named, in the legend and in the note.
  EXPECT_NE(html.find(fmt::format(">search run {} checks</text>", s.search)), std::string::npos);
  EXPECT_NE(html.find(fmt::format(">hwnas lut run {} held-out</text>", lut.id)), std::string::npos);
  EXPECT_NE(html.find(fmt::format("search run {}&#39;s checked candidates", s.search)),
            std::string::npos)
      << html;
  EXPECT_NE(html.find(fmt::format("held-out subnets of hwnas lut run {} (4, MAPE", lut.id)),
            std::string::npos);
  EXPECT_NE(html.find(fmt::format("MAPE {:.2f}%", 100 * mape(data.predictor))), std::string::npos);

  // Choosing a lut run reads only that one, beside the chosen search.
  const LutRun older = lut;
  const LutRun newer = add_lut_run(store_, s.device, 2, 0);
  const ReportData chosen = load_report_data(store_, {.run_ids = {s.search, older.id}});
  EXPECT_EQ(chosen.predictor_lut_runs, std::vector<std::int64_t>{older.id});
  EXPECT_EQ(chosen.predictor.size(), checked.size() + 4);
  EXPECT_EQ(load_report_data(store_, {}).predictor_lut_runs, std::vector<std::int64_t>{newer.id});
}

TEST_F(SectionPredictor, TheNewestFinishedLutRunWithHeldOutPointsIsTheOneRead) {
  const std::int64_t device = store_.upsert_device("cpu:test", "{}");
  const LutRun with_points = add_lut_run(store_, device, 2, 0);
  // Newer, but: one stored no points (from before schema version 5), one is still running, one
  // failed.
  const std::int64_t empty = store_.begin_run({.kind = "lut", .device_id = device});
  store_.finish_run(empty, RunStatus::Finished);
  add_lut_run(store_, device, 2, 0, RunStatus::Running);
  add_lut_run(store_, device, 2, 0, RunStatus::Failed);
  const ReportData data = load_report_data(store_, {});
  EXPECT_EQ(data.predictor_lut_runs, std::vector<std::int64_t>{with_points.id});
  EXPECT_EQ(data.predictor.size(), 2u);

  // A chosen lut run with nothing to show says so, and what would produce points.
  const std::string html =
      section_html(render_html(load_report_data(store_, {.run_ids = {empty}})), "predictor");
  EXPECT_NE(html.find(fmt::format("hwnas lut run {}: no held-out subnet whose measurement can be "
                                  "trusted",
                                  empty)),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("hwnas lut --space FILE"), std::string::npos);
  EXPECT_EQ(html.find("<svg"), std::string::npos);
  // Every held-out subnet contended: none shown, and the note says why.
  const LutRun busy = add_lut_run(store_, device, 0, 3);
  const std::string busy_html =
      section_html(render_html(load_report_data(store_, {.run_ids = {busy.id}})), "predictor");
  EXPECT_NE(busy_html.find("3 measured while other processes had the CPUs"), std::string::npos)
      << busy_html;
}

}  // namespace
}  // namespace hwnas::reports
