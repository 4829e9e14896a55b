// The search tables (schema version 3): generations with their candidates, the final front and the
// quality cache, as `hwnas search` writes and resumes them.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "store/store.hpp"
#include "tests/store/store_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using sqlite::Database;
using sqlite::OpenMode;
using testing::fields;
using testing::fresh_seed;
using testing::random_candidate;
using testing::random_front_row;
using testing::random_generation;
using testing::TempDir;
using testing::throws_with;

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A store with a running search run and three stored archs.
struct Fixture {
  std::mt19937_64 rng{fresh_seed("search rows")};
  TempDir dir;
  std::string path = dir.file("hwnas.db");
  Store store = Store::open(path);
  std::int64_t device = store.upsert_device("cpu:test", "{}");
  std::int64_t run = store.begin_run({.kind = "search", .device_id = device});
  std::vector<std::string> hashes = {add_arch("a1b2c3d4e5f60718", 19),
                                     add_arch("0f1e2d3c4b5a6978", 23),
                                     add_arch("9988776655443322", 3)};

  std::string add_arch(std::string hash, int width) {
    return store.upsert_arch(
        {.hash = std::move(hash),
         .canonical_json = fmt::format(R"({{"stages":[{{"width":{}}}]}})", width),
         .name = "tiny"});
  }
  std::vector<CandidateRow> candidates_of(std::int64_t generation, int n) {
    std::vector<CandidateRow> rows;
    for (int i = 0; i < n; ++i) {
      rows.push_back(
          random_candidate(run, generation, i, hashes[static_cast<std::size_t>(i) % 3], rng));
    }
    return rows;
  }
  std::int64_t count(std::string_view table) {
    return Database::open(path, {.mode = OpenMode::ReadOnly})
        .query_int64(fmt::format("SELECT count(*) FROM {}", table));
  }
};

TEST(SearchRows, GenerationsAndCandidatesRoundTripIncludingInfAndNull) {
  Fixture f;
  GenerationRow g0 = random_generation(f.run, 0, {f.hashes[2], f.hashes[0]}, f.rng);
  g0.created_at = "2024-05-01T00:00:00.000Z";
  // No measured check this generation: the predictor's error is NULL.
  g0.pred_n = 0;
  g0.pred_mape = g0.pred_within5 = g0.pred_within10 = g0.pred_kendall_tau = kNaN;
  std::vector<CandidateRow> c0 = f.candidates_of(0, 5);
  c0[1].crowding = kInf;  // boundary points of a front
  c0[4].crowding = kInf;
  c0[2].predicted_ms = kNaN;
  c0[2].latency_source = "measured";
  f.store.add_generation(g0, c0);
  GenerationRow g1 = random_generation(f.run, 1, {f.hashes[1]}, f.rng);
  const std::vector<CandidateRow> c1 = f.candidates_of(1, 3);
  f.store.add_generation(g1, c1);

  const std::vector<GenerationRow> got = f.store.generations(f.run);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(fields(got[0]), fields(g0));
  g1.created_at = got[1].created_at;  // now, by SQLite's clock
  EXPECT_EQ(got[1].created_at.back(), 'Z');
  EXPECT_EQ(fields(got[1]), fields(g1));
  EXPECT_TRUE(std::isinf(f.store.candidates(f.run, 0).at(1).crowding));
  EXPECT_EQ(fields(f.store.candidates(f.run, 0)), fields(c0));
  EXPECT_EQ(fields(f.store.candidates(f.run, 1)), fields(c1));
  std::vector<CandidateRow> all = c0;
  all.insert(all.end(), c1.begin(), c1.end());
  EXPECT_EQ(fields(f.store.candidates(f.run)), fields(all));
  EXPECT_TRUE(f.store.candidates(f.run, 7).empty());
  EXPECT_TRUE(f.store.generations(999).empty());

  Database db = Database::open(f.path, {.mode = OpenMode::ReadOnly});
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM search_generations WHERE pred_mape IS NULL AND "
                           "pred_kendall_tau IS NULL"),
            1);
  EXPECT_EQ(db.query_text("SELECT population_json FROM search_generations WHERE generation = 0"),
            fmt::format(R"(["{}","{}"])", f.hashes[2], f.hashes[0]));
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM search_candidates WHERE predicted_ms IS NULL"), 1);
}

TEST(SearchRows, AddGenerationIsAllOrNothing) {
  Fixture f;
  const GenerationRow g = random_generation(f.run, 0, {f.hashes[0]}, f.rng);
  std::vector<CandidateRow> rows = f.candidates_of(0, 6);
  // A bad row is refused before anything is written...
  rows[4].rank = -1;
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.add_generation(g, rows); },
      "store: candidate rank=-1 must be >= 0 [run 1 generation 0 idx 4]"));
  // ...and an unknown arch, met inside the transaction after the generation and four candidates,
  // rolls all of it back.
  rows[4] = random_candidate(f.run, 0, 4, "ffffffffffffffff", f.rng);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_generation(g, rows); },
                                           "candidate arch_hash=ffffffffffffffff: no such arch"));
  EXPECT_EQ(f.count("search_generations"), 0);
  EXPECT_EQ(f.count("search_candidates"), 0);
  rows[4].arch_hash = f.hashes[1];
  f.store.add_generation(g, rows);
  EXPECT_EQ(f.store.candidates(f.run).size(), 6u);
}

TEST(SearchRows, AddGenerationRefusesWhatDoesNotFit) {
  Fixture f;
  const GenerationRow g = random_generation(f.run, 0, {f.hashes[0]}, f.rng);
  f.store.add_generation(g, f.candidates_of(0, 2));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.add_generation(g, {}); },
      "cannot add generation 0: generation 0 of run 1 is already stored"));

  GenerationRow g1 = random_generation(f.run, 1, {"0000000000000000"}, f.rng);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_generation(g1, {}); },
                                           "population[0]=0000000000000000: no such arch"));
  g1.population = {f.hashes[1]};
  std::vector<CandidateRow> rows = f.candidates_of(1, 3);
  rows[2].generation = 0;
  EXPECT_TRUE(
      throws_with<InvalidArgument>([&] { f.store.add_generation(g1, rows); },
                                   "candidate idx 2 names run 1 generation 0, not the generation"));
  rows[2].generation = 1;
  rows[2].idx = 0;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_generation(g1, rows); },
                                           "candidate idx=0 appears twice in generation 1"));
  EXPECT_EQ(f.count("search_generations"), 1);

  // Only a running run takes generations.
  f.store.finish_run(f.run, RunStatus::Unfinished);
  EXPECT_TRUE(
      throws_with<InvalidArgument>([&] { f.store.add_generation(g1, f.candidates_of(1, 1)); },
                                   "cannot add generation 1: run 1 is unfinished, not running"));
  g1.run_id = 42;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_generation(g1, {}); },
                                           "run 42 does not exist"));
  EXPECT_EQ(f.count("search_generations"), 1);
}

TEST(SearchRows, BadRowsAreRefusedNamingTheField) {
  Fixture f;
  const GenerationRow good = random_generation(f.run, 3, {f.hashes[0]}, f.rng);
  const std::vector<std::pair<std::function<void(GenerationRow&)>, std::string>> generation_cases =
      {
          {[](GenerationRow& g) { g.generation = -1; }, "generation generation=-1 must be >= 0"},
          {[](GenerationRow& g) { g.hypervolume = kNaN; },
           "hypervolume=nan must be finite and >= 0"},
          {[](GenerationRow& g) { g.reference = {1.0}; },
           "reference=[1 values] must have one value per objective (2)"},
          {[](GenerationRow& g) { g.reference[1] = kInf; }, "reference[1]=inf must be finite"},
          {[](GenerationRow& g) {
             g.objectives = {};
             g.reference = {};
           },
           "objectives=[] must name at least one"},
          {[](GenerationRow& g) { g.cache_hits = g.evaluations + 1; }, "must be <= evaluations"},
          {[](GenerationRow& g) { g.pred_within5 = 1.5; },
           "pred_within5=1.5 must be in [0, 1], or NaN for none"},
          {[](GenerationRow& g) { g.pred_kendall_tau = -2; },
           "pred_kendall_tau=-2 must be in [-1, 1]"},
          {[](GenerationRow& g) { g.population = {""}; },
           "population[0]='' must name a stored arch"},
      };
  for (const auto& [mutate, message] : generation_cases) {
    GenerationRow g = good;
    mutate(g);
    EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_generation(g, {}); }, message))
        << message;
  }
  const CandidateRow candidate = random_candidate(f.run, 3, 0, f.hashes[0], f.rng);
  const std::vector<std::pair<std::function<void(CandidateRow&)>, std::string>> candidate_cases = {
      {[](CandidateRow& c) { c.origin = "mutant"; },
       "origin='mutant' must be 'initial' or 'offspring'"},
      {[](CandidateRow& c) {
         c.origin = "initial";
         c.parents = "0123456789abcdef";
       },
       "parents='0123456789abcdef' must be empty for origin 'initial'"},
      {[](CandidateRow& c) {
         c.origin = "offspring";
         c.parents = "a,b,c";
       },
       "parents='a,b,c' must be empty, one arch hash or two comma-separated ones"},
      {[](CandidateRow& c) {
         c.origin = "offspring";
         c.parents = "a,";
       },
       "parents='a,' must be empty, one arch hash"},
      {[](CandidateRow& c) { c.latency_source = "guess"; },
       "latency_source='guess' must be 'measured' or 'lut'"},
      {[](CandidateRow& c) { c.latency_ms = -1; }, "latency_ms=-1 must be finite and >= 0"},
      {[](CandidateRow& c) { c.predicted_ms = kInf; },
       "predicted_ms=inf must be finite and >= 0, or NaN"},
      {[](CandidateRow& c) { c.quality = kNaN; }, "quality=nan must be finite"},
      {[](CandidateRow& c) { c.quality_source = ""; }, "quality_source='' must not be empty"},
      {[](CandidateRow& c) { c.violation = -0.5; },
       "violation=-0.5 must be finite and >= 0 (0 = feasible)"},
      {[](CandidateRow& c) { c.crowding = kNaN; },
       "crowding=nan must be >= 0 (+inf at a front's boundary)"},
      {[](CandidateRow& c) { c.arch_hash = ""; }, "arch_hash='' must name a stored arch"},
      {[](CandidateRow& c) { c.params = kInf; },
       "params=inf must be finite and >= 0 [run 1 generation 3 idx 0]"},
  };
  for (const auto& [mutate, message] : candidate_cases) {
    CandidateRow c = candidate;
    mutate(c);
    EXPECT_TRUE(throws_with<InvalidArgument>(
        [&] {
          f.store.add_generation(good, {&c, 1});
        },
        message))
        << message;
  }
  EXPECT_EQ(f.count("search_generations"), 0);
}

TEST(SearchRows, SetFrontReplacesTheRunsFront) {
  Fixture f;
  std::vector<FrontRow> first = {random_front_row(f.run, 0, f.hashes[0], f.rng),
                                 random_front_row(f.run, 1, f.hashes[1], f.rng),
                                 random_front_row(f.run, 2, f.hashes[2], f.rng)};
  first[1].predicted_ms = kNaN;
  f.store.set_front(f.run, first);
  EXPECT_EQ(fields(f.store.front(f.run)), fields(first));
  const std::vector<FrontRow> second = {random_front_row(f.run, 0, f.hashes[2], f.rng)};
  f.store.set_front(f.run, second);
  EXPECT_EQ(fields(f.store.front(f.run)), fields(second));

  std::vector<FrontRow> bad = {random_front_row(f.run, 0, f.hashes[0], f.rng),
                               random_front_row(f.run, 1, "ffffffffffffffff", f.rng)};
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.set_front(f.run, bad); },
                                           "front arch_hash=ffffffffffffffff: no such arch"));
  EXPECT_EQ(fields(f.store.front(f.run)), fields(second));  // rolled back: the old front stays
  bad[1] = random_front_row(7, 1, f.hashes[0], f.rng);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.set_front(f.run, bad); },
                                           "front row idx 1 names run 7, not run 1"));
  bad[1] = random_front_row(f.run, 0, f.hashes[0], f.rng);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.set_front(f.run, bad); },
                                           "front idx=0 appears twice [run 1]"));
  bad[1].latency_source = "x";
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.set_front(f.run, bad); },
      "store: front latency_source='x' must be 'measured' or 'lut' [run 1 idx 0]"));

  f.store.finish_run(f.run, RunStatus::Finished);
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.set_front(f.run, second); },
      "cannot set the front of run 1: run 1 is finished, not running"));
}

TEST(SearchRows, QualityCacheReplacesTheValue) {
  Fixture f;
  const std::string config = "res=32,batch=8,seed=1,data=fashion-mnist:train:0";
  EXPECT_FALSE(f.store.quality(f.hashes[0], "naswot", config).has_value());
  std::uniform_real_distribution<double> score(-500, 500);
  const double first = score(f.rng), second = score(f.rng);
  f.store.upsert_quality(
      {.arch_hash = f.hashes[0], .method = "naswot", .config = config, .value = first});
  f.store.upsert_quality(
      {.arch_hash = f.hashes[1], .method = "naswot", .config = config, .value = second});
  const QualityRow got = f.store.quality(f.hashes[0], "naswot", config).value();
  EXPECT_EQ(got.value, first);
  EXPECT_EQ(got.arch_hash, f.hashes[0]);
  EXPECT_EQ(got.created_at.back(), 'Z');
  f.store.upsert_quality(
      {.arch_hash = f.hashes[0], .method = "naswot", .config = config, .value = second});
  EXPECT_EQ(f.store.quality(f.hashes[0], "naswot", config)->value, second);
  EXPECT_FALSE(f.store.quality(f.hashes[0], "naswot", "res=64").has_value());
  EXPECT_EQ(f.count("quality_scores"), 2);

  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        f.store.upsert_quality(
            {.arch_hash = "ffffffffffffffff", .method = "naswot", .config = config});
      },
      "quality arch_hash=ffffffffffffffff: no such arch"));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        f.store.upsert_quality(
            {.arch_hash = f.hashes[0], .method = "naswot", .config = config, .value = kNaN});
      },
      "store: quality value=nan must be finite"));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.upsert_quality({.arch_hash = f.hashes[0], .method = "", .config = config}); },
      "quality method='' must not be empty"));
}

}  // namespace
}  // namespace hwnas
