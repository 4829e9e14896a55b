#include "search/search_loop.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "search/hypervolume.hpp"
#include "search/nsga2.hpp"
#include "tests/search/fake_evaluators.hpp"
#include "tests/search/search_test_util.hpp"

namespace hwnas {
namespace {

using testing::default_space;
using testing::expect_invalid;
using testing::FakeLutLatency;
using testing::FakeMeasuredLatency;
using testing::FakeQuality;
using testing::true_latency_ms;

// Every field, doubles in their shortest exact form: equal text = equal reports.
std::string describe(const Candidate& c) {
  return fmt::format("{} lat={} {} pred={} q={} {} p={} f={} v={} r={} c={} {} {}", c.hash,
                     c.obj.latency_ms, c.obj.latency_source, c.obj.predicted_ms, c.obj.quality,
                     c.obj.quality_source, c.obj.params, c.obj.flops, c.violation, c.rank,
                     c.crowding, c.origin, c.in_population);
}
std::string describe(const GenerationReport& r) {
  std::string text = fmt::format(
      "gen {} hv={} ref={} obj={} evals={} hits={} checks={}\n", r.generation, r.hypervolume,
      r.reference, fmt::join(r.objectives, ","), r.evaluations, r.cache_hits, r.measured_checks);
  if (r.predictor) {
    text += fmt::format("predictor n={} mape={} tau={}\n", r.predictor->n, r.predictor->mape_pct,
                        r.predictor->kendall_tau);
  }
  for (const Candidate& c : r.evaluated) text += "  e " + describe(c) + "\n";
  for (const Candidate& c : r.population) text += "  p " + describe(c) + "\n";
  return text;
}
std::string describe(const SearchResult& r) {
  std::string text = fmt::format("run={} early={} checks={}\n", r.generations_run, r.early_stopped,
                                 r.final_measured_checks);
  for (const Candidate& c : r.front) text += "  f " + describe(c) + "\n";
  return text;
}

class Recorder : public SearchObserver {
 public:
  explicit Recorder(int stop_after = -1) : stop_after_(stop_after) {}
  void on_generation(const GenerationReport& report) override {
    reports.push_back(report);
    if (report.generation == stop_after_) throw std::runtime_error("stopped");
  }
  void on_evaluation(int generation, int index, int count, const Candidate&) override {
    EXPECT_EQ(count, expected_count);
    EXPECT_EQ(index, next_index_ % count) << "generation " << generation;
    ++next_index_;
  }
  std::vector<GenerationReport> reports;
  int expected_count = 8;

 private:
  int stop_after_;
  int next_index_ = 0;
};

SearchConfig small_config() {
  return {.objectives = {"quality", "latency"},
          .latency_budget_ms = std::nullopt,
          .params_budget = std::nullopt,
          .population = 8,
          .generations = 5,
          .mutation_p = 0.2,
          .crossover_p = 0.9,
          .seed = 7,
          .resolution = 224,
          .early_stop_generations = 0,
          .early_stop_rel = 1e-3};
}

// A resume point as apps/ rebuilds it from the stored reports of generations 0..k.
ResumePoint resume_from(const std::vector<GenerationReport>& reports) {
  ResumePoint point{.completed_generation = reports.back().generation,
                    .population = reports.back().population,
                    .reference = reports.back().reference,
                    .hypervolumes = {},
                    .evaluated = {}};
  for (const GenerationReport& r : reports) {
    point.hypervolumes.push_back(r.hypervolume);
    point.evaluated.insert(point.evaluated.end(), r.evaluated.begin(), r.evaluated.end());
  }
  return point;
}

TEST(SearchLoop, ConfigErrors) {
  const auto expect_config = [](SearchConfig config, const std::string& needle) {
    expect_invalid([&] { check(config); }, needle);
  };
  SearchConfig c = small_config();
  c.objectives = {};
  expect_config(c, "search: objectives=[] must name 1 to 4 of quality, latency, params, flops");
  c.objectives = {"quality", "speed"};
  expect_config(c, "search: objectives[1]='speed' is not one of quality, latency, params, flops");
  c.objectives = {"latency", "latency"};
  expect_config(c, "search: objectives[1]='latency' is listed twice");
  c = small_config();
  c.latency_budget_ms = -3;
  expect_config(c, "search: latency_budget_ms=-3 must be > 0");
  c = small_config();
  c.params_budget = 0;
  expect_config(c, "search: params_budget=0 must be > 0");
  c = small_config();
  c.population = 1;
  expect_config(c, "search: population=1 must be >= 2");
  c = small_config();
  c.generations = -1;
  expect_config(c, "search: generations=-1 must be >= 0");
  c = small_config();
  c.mutation_p = 1.5;
  expect_config(c, "search: mutation_p=1.5 must be in [0, 1]");
  c = small_config();
  c.crossover_p = -0.1;
  expect_config(c, "search: crossover_p=-0.1 must be in [0, 1]");
  c = small_config();
  c.early_stop_generations = -2;
  expect_config(c, "search: early_stop_generations=-2 must be >= 0 (0 = off)");
  c = small_config();
  c.early_stop_rel = -1;
  expect_config(c, "search: early_stop_rel=-1 must be >= 0");
  c = small_config();
  c.resolution = 0;
  expect_config(c, "search: resolution=0 must be >= 1");
  check(small_config());

  c = small_config();
  c.resolution = 192;
  FakeMeasuredLatency latency(224);
  FakeQuality quality(224);
  Recorder recorder;
  expect_invalid([&] { run_search(default_space(), c, latency, quality, recorder); },
                 "search: resolution=192 is not one of space 'default''s {224}");
  ResumePoint point{.completed_generation = 1, .population = {}, .reference = {1, 2}};
  expect_invalid(
      [&] { run_search(default_space(), small_config(), latency, quality, recorder, point); },
      "search: resume point has 0 members, population=8");
}

TEST(SearchLoop, ObjectivesViolationAndReferencePoint) {
  SearchConfig c = small_config();
  c.objectives = {"latency", "quality", "params", "flops"};
  c.latency_budget_ms = 10;
  c.params_budget = 2e6;
  const Objectives o{.latency_ms = 12, .quality = 3.5, .params = 1e6, .flops = 4e9};
  EXPECT_EQ(objective_vector(c, o), (std::vector<double>{12, -3.5, 1e6, 4e9}));
  EXPECT_DOUBLE_EQ(budget_violation(c, o), 0.2);
  const Objectives both{.latency_ms = 15, .quality = 0, .params = 3e6, .flops = 0};
  EXPECT_DOUBLE_EQ(budget_violation(c, both), 0.5 + 0.5);
  // Range 4 -> +0.4; no range -> +10 % of |worst|; all zero -> +1.
  const std::vector<std::vector<double>> points{{1, -5, 0}, {5, -5, 0}, {3, -5, 0}};
  const std::vector<double> reference = reference_point(points);
  EXPECT_DOUBLE_EQ(reference[0], 5.4);
  EXPECT_DOUBLE_EQ(reference[1], -4.5);
  EXPECT_DOUBLE_EQ(reference[2], 1.0);
}

TEST(SearchLoop, ReportsAreConsistentAndEachArchitectureIsEvaluatedOnce) {
  FakeMeasuredLatency latency(224);
  FakeQuality quality(224);
  Recorder recorder;
  const SearchConfig config = small_config();
  const SearchResult result = run_search(default_space(), config, latency, quality, recorder);
  ASSERT_EQ(recorder.reports.size(), 6u);
  EXPECT_EQ(result.generations_run, 5);
  EXPECT_FALSE(result.early_stopped);
  for (const auto& [hash, calls] : latency.calls) EXPECT_EQ(calls, 1) << hash;
  const GenerationReport& first = recorder.reports.front();
  std::vector<std::vector<double>> initial;
  for (const Candidate& c : first.evaluated) {
    initial.push_back(objective_vector(config, c.obj));
    EXPECT_EQ(c.origin, "init");
  }
  EXPECT_EQ(first.reference, reference_point(initial));
  const double first_hv = first.hypervolume;
  for (const GenerationReport& r : recorder.reports) {
    SCOPED_TRACE(fmt::format("generation {}", r.generation));
    EXPECT_EQ(r.reference, first.reference);
    EXPECT_EQ(r.evaluated.size(), 8u);
    EXPECT_EQ(r.evaluations, 8);
    ASSERT_EQ(r.population.size(), 8u);
    std::vector<Fitness> points;
    std::vector<std::vector<double>> vectors;
    for (const Candidate& c : r.population) {
      EXPECT_EQ(c.hash, arch_hash(c.arch));
      EXPECT_TRUE(is_subnet_of(c.arch, default_space()));
      EXPECT_DOUBLE_EQ(c.obj.latency_ms, true_latency_ms(c.arch, 224));
      points.push_back({objective_vector(config, c.obj), c.violation});
      vectors.push_back(points.back().objectives);
    }
    const Ranking ranking = rank_points(points);
    for (std::size_t i = 0; i < r.population.size(); ++i) {
      EXPECT_EQ(r.population[i].rank, ranking.rank[i]);
      EXPECT_EQ(r.population[i].crowding, ranking.crowding[i]);
    }
    EXPECT_DOUBLE_EQ(r.hypervolume, hypervolume(vectors, r.reference));
    EXPECT_GT(r.hypervolume, 0);
    // Not monotone: truncating an overfull first front by crowding may drop a point that held
    // volume. But it cannot fall below the first generation's by much in a run this short.
    EXPECT_GE(r.hypervolume, 0.5 * first_hv);
    if (r.generation > 0) {
      int survived = 0;
      for (const Candidate& c : r.evaluated) {
        EXPECT_TRUE(c.origin.starts_with("crossover:") || c.origin.starts_with("mutation:"))
            << c.origin;
        survived += c.in_population ? 1 : 0;
      }
      // The survivors among the offspring are exactly the population members they became.
      int from_offspring = 0;
      for (const Candidate& c : r.population) {
        from_offspring += c.origin.starts_with("init") ? 0 : 1;
      }
      if (r.generation == 1) {
        EXPECT_EQ(survived, from_offspring);
      }
      EXPECT_FALSE(r.predictor.has_value());
      EXPECT_EQ(r.measured_checks, 0);
    }
  }
  // The front: the population's rank-0 members, mutually non-dominated, sorted by objectives.
  ASSERT_FALSE(result.front.empty());
  for (const Candidate& a : result.front) {
    EXPECT_EQ(a.rank, 0);
    for (const Candidate& b : result.front) {
      EXPECT_FALSE(dominates({objective_vector(config, a.obj), a.violation},
                             {objective_vector(config, b.obj), b.violation}));
    }
  }
  EXPECT_EQ(result.final_measured_checks, 0);
}

TEST(SearchLoop, SameSeedSameReportsOtherSeedOtherSearch) {
  const auto run = [](std::uint64_t seed) {
    FakeMeasuredLatency latency(224);
    FakeQuality quality(224);
    Recorder recorder;
    SearchConfig config = small_config();
    config.seed = seed;
    std::string text = describe(run_search(default_space(), config, latency, quality, recorder));
    for (const GenerationReport& r : recorder.reports) text += describe(r);
    return text;
  };
  const std::string once = run(11);
  EXPECT_EQ(once, run(11));
  EXPECT_NE(once, run(12));
}

TEST(SearchLoop, ResumeAfterAnInterruptionGivesTheUninterruptedSearch) {
  SearchConfig config = small_config();
  config.latency_budget_ms = 6.0;
  FakeQuality quality(224);
  FakeMeasuredLatency latency(224);
  Recorder full;
  const SearchResult expected = run_search(default_space(), config, latency, quality, full);

  for (const int stop_after : {0, 2, 5}) {
    SCOPED_TRACE(fmt::format("stopped after generation {}", stop_after));
    FakeMeasuredLatency first_latency(224);
    Recorder interrupted(stop_after);
    EXPECT_THROW(run_search(default_space(), config, first_latency, quality, interrupted),
                 std::runtime_error);
    ASSERT_EQ(interrupted.reports.size(), static_cast<std::size_t>(stop_after) + 1);
    FakeMeasuredLatency second_latency(224);
    Recorder resumed;
    const SearchResult got = run_search(default_space(), config, second_latency, quality, resumed,
                                        resume_from(interrupted.reports));
    EXPECT_EQ(describe(got), describe(expected));
    ASSERT_EQ(resumed.reports.size(), full.reports.size() - interrupted.reports.size());
    for (std::size_t i = 0; i < resumed.reports.size(); ++i) {
      EXPECT_EQ(describe(resumed.reports[i]), describe(full.reports[stop_after + 1 + i]));
    }
    // With the memo refilled, nothing evaluated before the interruption is asked again.
    for (const GenerationReport& r : interrupted.reports) {
      for (const Candidate& c : r.evaluated) EXPECT_EQ(second_latency.calls.count(c.hash), 0u);
    }
    // Without it the evaluators are asked again, and the search is still the same.
    ResumePoint bare = resume_from(interrupted.reports);
    bare.evaluated.clear();
    FakeMeasuredLatency third_latency(224);
    Recorder again;
    EXPECT_EQ(describe(run_search(default_space(), config, third_latency, quality, again, bare)),
              describe(expected));
  }
}

// Predictions off by up to 30 % while claiming 5 %: candidates predicted near the budget are
// measured, and the front returned is measured throughout and consistent with the measurements.
TEST(SearchLoop, LookupTableModeNeverClaimsAFrontMeasurementContradicts) {
  SearchConfig config = small_config();
  config.population = 12;
  config.generations = 6;
  config.latency_budget_ms = 6.0;
  FakeLutLatency latency(224, 0.3);
  FakeQuality quality(224);
  Recorder recorder;
  recorder.expected_count = 12;
  const SearchResult result = run_search(default_space(), config, latency, quality, recorder);
  const double budget = *config.latency_budget_ms;
  int checks = 0;
  for (const GenerationReport& r : recorder.reports) {
    int measured_here = 0;
    for (const Candidate& c : r.evaluated) {
      const double predicted = latency.predict(c.arch);
      EXPECT_DOUBLE_EQ(c.obj.predicted_ms, predicted);
      const bool near = std::abs(predicted - budget) <= 0.05 * budget;
      if (c.obj.latency_source == "measured") {
        EXPECT_TRUE(near) << c.hash;
        EXPECT_DOUBLE_EQ(c.obj.latency_ms, true_latency_ms(c.arch, 224));
        ++measured_here;
      } else {
        EXPECT_FALSE(near) << c.hash;
        EXPECT_EQ(c.obj.latency_source, "lut");
      }
    }
    checks += r.measured_checks;
    EXPECT_EQ(r.predictor.has_value(), r.measured_checks > 0);
    if (r.predictor) {
      EXPECT_EQ(r.predictor->n, static_cast<std::size_t>(r.measured_checks));
    }
  }
  EXPECT_GT(checks, 0) << "no candidate came near the budget: the test checks nothing";
  ASSERT_FALSE(result.front.empty());
  EXPECT_GT(result.final_measured_checks, 0);
  ASSERT_TRUE(result.final_predictor.has_value());
  EXPECT_GT(result.final_predictor->mape_pct, 1.0);
  for (const Candidate& a : result.front) {
    EXPECT_EQ(a.obj.latency_source, "measured");
    EXPECT_DOUBLE_EQ(a.obj.latency_ms, true_latency_ms(a.arch, 224));
    EXPECT_DOUBLE_EQ(a.violation, std::max(0.0, a.obj.latency_ms / budget - 1));
    EXPECT_EQ(a.violation, 0) << "a feasible front exists at this budget";
    for (const Candidate& b : result.front) {
      EXPECT_FALSE(dominates({objective_vector(config, a.obj), a.violation},
                             {objective_vector(config, b.obj), b.violation}));
    }
  }
  // Each architecture is measured at most once by the generations and once more at the end.
  for (const auto& [hash, count] : latency.measured) EXPECT_LE(count, 2) << hash;
}

TEST(SearchLoop, SingleObjectiveModeKeepsTheBestFeasibleQuality) {
  SearchConfig config = small_config();
  config.objectives = {"quality"};
  config.latency_budget_ms = 4.0;
  config.generations = 6;
  FakeMeasuredLatency latency(224);
  FakeQuality quality(224);
  Recorder recorder;
  const SearchResult result = run_search(default_space(), config, latency, quality, recorder);
  double best = -std::numeric_limits<double>::infinity();
  int infeasible = 0;
  for (const GenerationReport& r : recorder.reports) {
    for (const Candidate& c : r.evaluated) {
      if (c.obj.latency_ms <= 4.0) best = std::max(best, c.obj.quality);
      infeasible += c.obj.latency_ms > 4.0 ? 1 : 0;
    }
  }
  ASSERT_TRUE(std::isfinite(best)) << "nothing feasible was drawn: the test checks nothing";
  EXPECT_GT(infeasible, 0) << "the budget binds nothing: the test checks nothing";
  ASSERT_FALSE(result.front.empty());
  EXPECT_EQ(result.front.front().obj.quality, best);
  for (const Candidate& c : result.front) {
    EXPECT_EQ(c.violation, 0);
    EXPECT_LE(c.obj.latency_ms, 4.0);
    EXPECT_EQ(c.obj.quality, best);
  }
  // One objective: the hypervolume is the reference minus the best negated quality, or 0 when
  // that lies beyond the reference.
  const GenerationReport& last = recorder.reports.back();
  EXPECT_DOUBLE_EQ(last.hypervolume, std::max(0.0, last.reference[0] + best));
}

TEST(SearchLoop, EarlyStopWhenTheHypervolumeStalls) {
  SearchConfig config = small_config();
  config.generations = 20;
  config.early_stop_generations = 2;
  config.early_stop_rel = 1e6;  // no improvement can count: stops after generation 2
  FakeMeasuredLatency latency(224);
  FakeQuality quality(224);
  Recorder recorder;
  SearchResult result = run_search(default_space(), config, latency, quality, recorder);
  EXPECT_TRUE(result.early_stopped);
  EXPECT_EQ(result.generations_run, 2);
  EXPECT_EQ(recorder.reports.size(), 3u);

  // A resumed search sees the same history and stops at the same generation.
  Recorder interrupted(1);
  FakeMeasuredLatency again(224);
  EXPECT_THROW(run_search(default_space(), config, again, quality, interrupted),
               std::runtime_error);
  Recorder resumed;
  const ResumePoint point = resume_from(interrupted.reports);
  EXPECT_EQ(describe(run_search(default_space(), config, again, quality, resumed, point)),
            describe(result));
  ResumePoint no_history = point;
  no_history.hypervolumes.clear();
  expect_invalid(
      [&] { run_search(default_space(), config, again, quality, resumed, no_history); },
      "search: early stop needs the hypervolume of generations 0..1; the resume point has 0");

  // A tolerance of 0 with a stalling run: stops only after K generations without any gain.
  config.early_stop_rel = 0;
  config.early_stop_generations = 3;
  Recorder normal;
  result = run_search(default_space(), config, latency, quality, normal);
  std::vector<double> hv;
  for (const GenerationReport& r : normal.reports) hv.push_back(r.hypervolume);
  if (result.early_stopped) {
    const std::size_t n = hv.size();
    ASSERT_GT(n, 3u);
    EXPECT_LE(*std::max_element(hv.end() - 3, hv.end()),
              *std::max_element(hv.begin(), hv.end() - 3));
  } else {
    EXPECT_EQ(result.generations_run, 20);
  }
}

// A space with a single subnet: every draw is a duplicate, so redrawing must give up and the
// memo must answer.
TEST(SearchLoop, ASpaceSmallerThanThePopulationStillRuns) {
  const SearchSpace space = parse_search_space(R"({
    "name": "one",
    "resolutions": [32],
    "stems": [{"convs": [{"kernel": 4, "stride": 4}], "norm": {"norm": "ln"}}],
    "stages": [{"depths": [1], "widths": [8], "mlp_ratios": [2],
                "mixers": [{"mixer": "dwconv", "k": [3]}]}],
    "head": {"norm": {"norm": "ln"}, "num_classes": 10}
  })",
                                               "one.json");
  SearchConfig config = small_config();
  config.resolution = 32;
  config.generations = 2;
  FakeMeasuredLatency latency(32);
  FakeQuality quality(32);
  Recorder recorder;
  const SearchResult result = run_search(space, config, latency, quality, recorder);
  EXPECT_EQ(latency.calls.size(), 1u);
  EXPECT_EQ(recorder.reports[0].cache_hits, 7);
  EXPECT_EQ(recorder.reports[1].cache_hits, 8);
  ASSERT_EQ(result.front.size(), 1u);
}

}  // namespace
}  // namespace hwnas
