// The predictor points table (schema version 5), as `hwnas lut` writes it: the migration from a
// version-4 file, the round trip, the checks, and merging.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <limits>
#include <map>
#include <random>

#include "store/merge.hpp"
#include "store/store.hpp"
#include "tests/store/store_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using sqlite::Database;
using sqlite::OpenMode;
using testing::fresh_seed;
using testing::random_candidate;
using testing::random_front_row;
using testing::random_generation;
using testing::random_measurement;
using testing::TempDir;
using testing::throws_with;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::string hash_of(int i) { return fmt::format("{:016x}", 0xfeed0000 + i); }

// A stored arch per index, and a lut run on one device.
struct Fixture {
  TempDir dir;
  Store store = Store::open(dir.file("hwnas.db"));
  std::int64_t device = store.upsert_device("cpu:test", "{}");
  std::int64_t run = store.begin_run({.kind = "lut", .device_id = device});
  explicit Fixture(int archs = 6) {
    for (int i = 0; i < archs; ++i) {
      store.upsert_arch(
          {.hash = hash_of(i), .canonical_json = fmt::format(R"({{"i":{}}})", i), .name = "sub"});
    }
  }
};

PredictorPointRow random_point(std::int64_t run, int i, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> ms(0.05, 40.0);
  const double layer_sum = ms(rng);
  return {.run_id = run,
          .arch_hash = hash_of(i),
          .role = i % 3 == 0 ? "calibrate" : "held_out",
          .predicted_ms = layer_sum * 1.1 + 1.0 / 3.0,
          .layer_sum_ms = layer_sum,
          .n_layers = static_cast<double>(10 + i),
          .measured_ms = ms(rng),
          .contended = i % 4 == 1};
}

// Every row of every table, as text: what a migration must leave as it was.
std::map<std::string, std::string> table_contents(const std::string& path) {
  const Database db = Database::open(path, {.mode = OpenMode::ReadOnly});
  std::vector<std::string> tables;
  {
    sqlite::Statement q = db.prepare(
        "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name");
    sqlite::ScopedReset reset(q);
    while (q.step()) tables.push_back(q.column_text(0));
  }
  std::map<std::string, std::string> out;
  for (const std::string& table : tables) {
    std::vector<std::string> columns;
    {
      sqlite::Statement q = db.prepare("SELECT name FROM pragma_table_info(?1) ORDER BY cid");
      q.bind(1, table);
      sqlite::ScopedReset reset(q);
      while (q.step()) columns.push_back(fmt::format("quote({})", q.column_text(0)));
    }
    out[table] =
        fmt::format("{} rows: {}", db.query_int64(fmt::format("SELECT count(*) FROM {}", table)),
                    db.query_text(fmt::format(
                        "SELECT coalesce(group_concat(r, ' ; '), '') FROM (SELECT {} AS r FROM {} "
                        "ORDER BY rowid)",
                        fmt::join(columns, " || ',' || "), table)));
  }
  return out;
}

// The schema SQL of a file, every object, by name.
std::string schema_sql(const std::string& path) {
  return Database::open(path, {.mode = OpenMode::ReadOnly})
      .query_text(
          "SELECT group_concat(name || ': ' || coalesce(sql, ''), '\n') FROM "
          "(SELECT name, sql FROM sqlite_schema ORDER BY name)");
}

TEST(PredictorPoints, MigrationFromVersionFourKeepsEveryRow) {
  TempDir dir;
  const std::string path = dir.file("v4.db");
  std::mt19937_64 rng(fresh_seed("predictor points migration"));
  std::int64_t search = 0;
  {
    // A row in every table of version 4, written through the Store (which writes version 5; the
    // table version 5 adds is dropped below, which leaves exactly a version-4 file).
    Store store = Store::open(path);
    const std::int64_t device = store.upsert_device("cpu:a", R"({"cores":2})");
    const std::int64_t bench = store.begin_run({.kind = "bench", .device_id = device});
    store.upsert_arch({.hash = hash_of(0), .canonical_json = R"({"a":0})", .name = "zero"});
    store.upsert_arch({.hash = hash_of(1), .canonical_json = R"({"a":1})", .name = "one"});
    MeasurementRow m = random_measurement(bench, "arch:zero", rng);
    m.kind = MeasurementKind::Arch;
    m.arch_hash = hash_of(0);
    const std::int64_t id = store.add_measurement(m);
    store.add_layer_times(std::vector<LayerTimeRow>{{.measurement_id = id,
                                                     .name = "stem",
                                                     .kind = "stem",
                                                     .key = "conv2d:n=1",
                                                     .median_ms = 0.5,
                                                     .share = 1,
                                                     .n = 1,
                                                     .samples_ms = {0.5}}});
    store.finish_run(bench, RunStatus::Finished);
    search = store.begin_run({.kind = "search", .device_id = device});
    store.add_generation(random_generation(search, 0, {hash_of(1)}, rng),
                         std::vector{random_candidate(search, 0, 0, hash_of(1), rng)});
    store.set_front(search, std::vector{random_front_row(search, 0, hash_of(1), rng)});
    store.upsert_quality({.arch_hash = hash_of(1), .method = "naswot", .config = "c", .value = 3});
    store.finish_run(search, RunStatus::Finished);
    const std::int64_t reproduce = store.begin_run({.kind = "reproduce", .device_id = device});
    store.add_claim_results(std::vector<ClaimResultRow>{{.run_id = reproduce,
                                                         .claim_id = "C1",
                                                         .claimed = 2,
                                                         .tolerance = 0.1,
                                                         .verdict = "not_measurable"}});
    store.finish_run(reproduce, RunStatus::Failed);
  }
  {
    Database db = Database::open(path);
    db.exec("DROP TABLE predictor_points");
    db.exec("ALTER TABLE search_candidates DROP COLUMN parents");  // version 6
    db.exec("PRAGMA user_version = 4");
  }
  // The same schema as a file built by the first four migrations alone.
  const std::string reference = dir.file("reference_v4.db");
  {
    Database db = Database::open(reference);
    for (std::size_t v = 0; v < 4; ++v) {
      for (std::string_view step : schema_migrations()[v].steps) db.exec(step);
    }
    db.exec("PRAGMA user_version = 4");
  }
  ASSERT_EQ(schema_sql(path), schema_sql(reference));
  const std::map<std::string, std::string> before = table_contents(path);
  ASSERT_EQ(before.size(), 10u);
  for (const auto& [table, rows] : before) EXPECT_NE(rows.rfind("0 rows", 0), 0u) << table;

  Store store = Store::open(path);
  EXPECT_EQ(store.schema_version(), latest_schema_version());
  std::map<std::string, std::string> after = table_contents(path);
  ASSERT_TRUE(after.contains("predictor_points"));
  EXPECT_EQ(after["predictor_points"], "0 rows: ");
  after.erase("predictor_points");
  // Version 6 added a column to search_candidates: the same rows, each with empty parents.
  const auto count = [](const std::string& rows) { return rows.substr(0, rows.find(':')); };
  EXPECT_EQ(count(after.at("search_candidates")), count(before.at("search_candidates")));
  EXPECT_EQ(Database::open(path).query_int64(
                "SELECT count(*) FROM search_candidates WHERE parents != ''"),
            0);
  after.erase("search_candidates");
  std::map<std::string, std::string> kept = before;
  kept.erase("search_candidates");
  EXPECT_EQ(after, kept);
  // The migrated file takes points of a new run, over an arch stored before the migration.
  const std::int64_t lut = store.begin_run({.kind = "lut", .device_id = 1});
  const PredictorPointRow point = random_point(lut, 1, rng);
  store.add_predictor_points(std::vector{point});
  EXPECT_EQ(store.predictor_points(lut), std::vector{point});
  EXPECT_TRUE(store.predictor_points(search).empty());
}

TEST(PredictorPoints, RoundTripInInsertionOrder) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("predictor points round trip"));
  std::vector<PredictorPointRow> rows;
  for (const int i : {4, 0, 2, 5}) rows.push_back(random_point(f.run, i, rng));
  f.store.add_predictor_points(std::span(rows).first(2));
  f.store.add_predictor_points(std::span(rows).subspan(2));  // one call per point, as lut does
  EXPECT_EQ(f.store.predictor_points(f.run), rows);
  EXPECT_TRUE(f.store.predictor_points(f.run + 1).empty());
  f.store.add_predictor_points({});  // nothing is a valid nothing
  const std::int64_t other = f.store.begin_run({.kind = "lut", .device_id = f.device});
  // Another run may hold the same arch.
  PredictorPointRow again = rows[0];
  again.run_id = other;
  f.store.add_predictor_points(std::vector{again});
  EXPECT_EQ(f.store.predictor_points(other), std::vector{again});
  EXPECT_EQ(f.store.predictor_points(f.run).size(), 4u);
}

TEST(PredictorPoints, EveryBadValueIsNamedAndNothingIsWritten) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("predictor points bad"));
  const PredictorPointRow good = random_point(f.run, 0, rng);
  struct Case {
    void (*spoil)(PredictorPointRow&);
    std::string message;
  };
  const std::string where = fmt::format("[run {} arch {}]", f.run, hash_of(1));
  const Case cases[] = {
      {[](PredictorPointRow& r) { r.role = "guess"; },
       "store: predictor point role='guess' must be 'calibrate' or 'held_out' " + where},
      {[](PredictorPointRow& r) { r.predicted_ms = kNaN; },
       "predictor point predicted_ms=nan must be finite and > 0 " + where},
      {[](PredictorPointRow& r) { r.predicted_ms = -2.5; },
       "predicted_ms=-2.5 must be finite and > 0"},
      {[](PredictorPointRow& r) { r.layer_sum_ms = 0; }, "layer_sum_ms=0 must be finite and > 0"},
      {[](PredictorPointRow& r) { r.measured_ms = kInf; },
       "measured_ms=inf must be finite and > 0"},
      {[](PredictorPointRow& r) { r.measured_ms = -1; }, "measured_ms=-1 must be finite and > 0"},
      {[](PredictorPointRow& r) { r.n_layers = 0.5; }, "n_layers=0.5 must be finite and >= 1"},
      {[](PredictorPointRow& r) { r.n_layers = kNaN; }, "n_layers=nan must be finite and >= 1"},
      {[](PredictorPointRow& r) { r.arch_hash.clear(); }, "arch_hash='' must not be empty"},
  };
  for (const Case& c : cases) {
    PredictorPointRow bad = random_point(f.run, 1, rng);
    c.spoil(bad);
    EXPECT_TRUE(throws_with<InvalidArgument>(
        [&] {
          f.store.add_predictor_points(std::vector{good, bad});
        },
        c.message))
        << c.message;
    EXPECT_TRUE(f.store.predictor_points(f.run).empty()) << c.message;
  }
  // Rules only the database can judge also roll the whole call back.
  PredictorPointRow unknown = random_point(f.run, 1, rng);
  unknown.arch_hash = "00000000deadbeef";
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        f.store.add_predictor_points(std::vector{good, unknown});
      },
      "cannot add the predictor point of arch 00000000deadbeef: arch 00000000deadbeef is not "
      "stored"));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        f.store.add_predictor_points(std::vector{good, good});
      },
      fmt::format("cannot add the predictor point of arch {}: it is already stored in run {}",
                  hash_of(0), f.run)));
  EXPECT_TRUE(f.store.predictor_points(f.run).empty());
  PredictorPointRow elsewhere = random_point(99, 2, rng);
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        f.store.add_predictor_points(std::vector{good, elsewhere});
      },
      fmt::format("cannot add the predictor point of arch {}: run 99 does not exist", hash_of(2))));
  EXPECT_TRUE(f.store.predictor_points(f.run).empty());
  f.store.add_predictor_points(std::vector{good});
  f.store.finish_run(f.run, RunStatus::Finished);
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.add_predictor_points(std::vector{random_point(f.run, 3, rng)}); },
      fmt::format("run {} is finished, not running", f.run)));
  EXPECT_EQ(f.store.predictor_points(f.run), std::vector{good});
}

TEST(PredictorPoints, MergeCarriesThemWithTheirRunOnce) {
  Fixture src;
  std::mt19937_64 rng(fresh_seed("predictor points merge"));
  std::vector<PredictorPointRow> rows = {random_point(src.run, 3, rng),
                                         random_point(src.run, 1, rng)};
  src.store.add_predictor_points(rows);
  TempDir dir;
  Store dst = Store::open(dir.file("dst.db"));
  const std::int64_t other =
      dst.begin_run({.kind = "bench", .device_id = dst.upsert_device("cpu:o", "{}")});
  // Merged while the lut run still runs (a shard merged early) ...
  MergeStats added = merge_store(dst, src.store.path());
  EXPECT_EQ(added.predictor_points, 2);
  EXPECT_EQ(added.archs, 6);
  // ... then it goes on: a second merge brings only the new point.
  rows.push_back(random_point(src.run, 4, rng));
  src.store.add_predictor_points(std::span(rows).last(1));
  src.store.finish_run(src.run, RunStatus::Finished);
  added = merge_store(dst, src.store.path());
  EXPECT_EQ(added.predictor_points, 1);
  EXPECT_EQ(added.runs, 0);
  EXPECT_EQ(merge_store(dst, src.store.path()).predictor_points, 0);  // again: nothing

  const std::vector<RunRow> runs = dst.runs();
  ASSERT_EQ(runs.size(), 2u);
  const std::int64_t merged = runs[0].id == other ? runs[1].id : runs[0].id;
  EXPECT_NE(merged, src.run);  // ids differ between files; the rows follow the run's uid
  EXPECT_EQ(dst.run(merged)->status, RunStatus::Finished);
  std::vector<PredictorPointRow> back = dst.predictor_points(merged);
  for (PredictorPointRow& r : back) r.run_id = src.run;
  EXPECT_EQ(back, rows);
  EXPECT_TRUE(dst.predictor_points(other).empty());
}

}  // namespace
}  // namespace hwnas
