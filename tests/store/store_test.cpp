#include "store/store.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>

#include "tests/store/store_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using sqlite::Database;
using sqlite::OpenMode;
using testing::fresh_seed;
using testing::random_measurement;
using testing::TempDir;
using testing::throws_with;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A store with one device and one running run, the starting point of most tests.
struct Fixture {
  TempDir dir;
  std::string path = dir.file("hwnas.db");
  Store store = Store::open(path);
  std::int64_t device = store.upsert_device("cpu:xeon-8480+:avx512_core_amx", R"({"cores":56})");
  std::int64_t run = store.begin_run({.kind = "sweep", .device_id = device, .code_version = "abc123"});
};

bool same_bits(double a, double b) { return std::bit_cast<std::uint64_t>(a) == std::bit_cast<std::uint64_t>(b); }

TEST(Store, CreatesTheLatestSchema) {
  TempDir dir;
  const std::string path = dir.file("new.db");
  EXPECT_EQ(latest_schema_version(), 6);
  EXPECT_EQ(Store::open(path).schema_version(), 6);
  Database db = Database::open(path, {.mode = OpenMode::ReadOnly});
  EXPECT_EQ(db.query_int64("PRAGMA user_version"), 6);
  EXPECT_EQ(db.query_int64("PRAGMA application_id"), kApplicationId);
  EXPECT_EQ(db.query_text("PRAGMA journal_mode"), "wal");
  // devices, runs, measurements (version 1); archs, layer_times (version 2); search_generations,
  // search_candidates, search_front, quality_scores (version 3); claim_results (version 4);
  // predictor_points (version 5); version 6 only adds search_candidates.parents.
  EXPECT_EQ(db.query_int64(
                "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%STRICT'"),
            11);
  // Opening again changes nothing.
  EXPECT_EQ(Store::open(path).schema_version(), 6);
}

TEST(Store, MeasurementRoundTripsEveryColumn) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("store round trip"));
  MeasurementRow row = random_measurement(f.run, "linear:m=3136,k=96,n=384,bias=1,act=none", rng);
  row.kind = MeasurementKind::Arch;
  row.arch_hash = f.store.upsert_arch(
      {.hash = "0123456789abcdef", .canonical_json = R"({"stages":[]})", .name = "tiny"});
  row.created_at = "2024-05-01T12:34:56.789Z";
  // Raw samples keep every bit, including the ones a text format would lose.
  row.samples_ms = {1.0 / 3.0, 0.0, -0.0, std::numeric_limits<double>::denorm_min(),
                    std::numeric_limits<double>::max(), 12.5};
  row.n = static_cast<std::int64_t>(row.samples_ms.size());
  const std::int64_t id = f.store.add_measurement(row);

  MeasurementRow expected = row;
  expected.id = id;
  expected.device_id = f.device;
  const std::vector<MeasurementRow> got = f.store.measurements_for_run(f.run);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0], expected);
  for (std::size_t i = 0; i < row.samples_ms.size(); ++i) {
    EXPECT_TRUE(same_bits(got[0].samples_ms[i], row.samples_ms[i])) << "sample " << i;
  }
  const auto latest = f.store.latest_measurement(
      {.key = row.key, .device_id = f.device, .threads = row.threads, .dtype = "f32", .batch = row.batch});
  ASSERT_TRUE(latest.has_value());
  EXPECT_EQ(*latest, expected);

  // The blob is little-endian float64: 1/3 = 0x3FD5555555555555.
  Database db = Database::open(f.path, {.mode = OpenMode::ReadOnly});
  EXPECT_EQ(db.query_text("SELECT hex(substr(samples, 1, 8)) FROM measurements"), "555555555555D53F");
}

TEST(Store, UndefinedStatisticsAreNullAndReadBackAsNaN) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("store nan"));
  MeasurementRow row = random_measurement(f.run, "pool:k=3", rng, 1);
  row.stddev_ms = row.cv = row.ci_low_ms = row.ci_high_ms = kNaN;
  f.store.add_measurement(row);
  const MeasurementRow got = f.store.measurements_for_run(f.run).at(0);
  EXPECT_TRUE(std::isnan(got.stddev_ms) && std::isnan(got.cv) && std::isnan(got.ci_low_ms) &&
              std::isnan(got.ci_high_ms));
  EXPECT_EQ(got.mad_ms, row.mad_ms);
  Database db = Database::open(f.path, {.mode = OpenMode::ReadOnly});
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM measurements WHERE cv IS NULL AND stddev_ms IS NULL"), 1);
  // The store fills created_at from SQLite's clock: ISO 8601 UTC with milliseconds.
  EXPECT_EQ(got.created_at.size(), std::string_view("2024-05-01T12:34:56.789Z").size()) << got.created_at;
  EXPECT_EQ(got.created_at.back(), 'Z');
}

TEST(Store, RunRoundTrips) {
  Fixture f;
  const std::int64_t run = f.store.begin_run({.kind = "bench",
                                              .device_id = f.device,
                                              .config_json = R"({"threads":4,"batch":1})",
                                              .started_at = "2024-05-01T00:00:00.000Z",
                                              .code_version = "0123456789ab-dirty",
                                              .software_json = R"({"onednn":"3.2.0","compiler":"gcc 12.2"})"});
  const RunRow running = f.store.run(run).value();
  EXPECT_EQ(running.status, RunStatus::Running);
  EXPECT_FALSE(running.finished_at.has_value());
  EXPECT_FALSE(running.drift.has_value());
  EXPECT_EQ(running.pid, getpid());
  EXPECT_FALSE(running.host.empty());

  f.store.finish_run(run, RunStatus::Finished, RunDrift{.rel = 0.031, .drifted = true});
  RunRow expected = running;
  expected.status = RunStatus::Finished;
  expected.drift = RunDrift{.rel = 0.031, .drifted = true};
  const RunRow got = f.store.run(run).value();
  ASSERT_TRUE(got.finished_at.has_value());
  expected.finished_at = got.finished_at;
  EXPECT_EQ(got, expected);
  EXPECT_EQ(got.config_json, R"({"threads":4,"batch":1})");
  EXPECT_EQ(got.started_at, "2024-05-01T00:00:00.000Z");

  f.store.finish_run(f.run, RunStatus::Failed);
  const std::vector<RunRow> all = f.store.runs();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].id, f.run);
  EXPECT_EQ(all[0].status, RunStatus::Failed);
  EXPECT_FALSE(all[0].drift.has_value());
  EXPECT_EQ(all[1], got);
  EXPECT_FALSE(f.store.run(999).has_value());
}

TEST(Store, UpsertDeviceKeepsIdAndFirstSeen) {
  Fixture f;
  const DeviceRow before = f.store.device(f.device).value();
  EXPECT_EQ(before.device_key, "cpu:xeon-8480+:avx512_core_amx");
  EXPECT_EQ(before.fingerprint_json, R"({"cores":56})");
  EXPECT_EQ(f.store.upsert_device("cpu:xeon-8480+:avx512_core_amx", R"({"cores":56,"smt":true})"), f.device);
  const DeviceRow after = f.store.device(f.device).value();
  EXPECT_EQ(after.fingerprint_json, R"({"cores":56,"smt":true})");
  EXPECT_EQ(after.first_seen, before.first_seen);
  EXPECT_NE(f.store.upsert_device("gpu:h100", "{}"), f.device);
  EXPECT_FALSE(f.store.device(999).has_value());
  EXPECT_TRUE(throws_with<IoError>([&] { f.store.upsert_device("cpu:x", "{not json"); },
                                   "fingerprint_json_is_json"));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.upsert_device("", "{}"); }, "device_key=''"));
}

TEST(Store, LatestMeasurementPicksTheNewestOfThePoint) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("store latest"));
  std::vector<MeasurementRow> rows;
  for (int i = 0; i < 3; ++i) {
    rows.push_back(random_measurement(f.run, "conv2d:k=3", rng));
    rows.back().threads = 4;
    rows.back().batch = 1;
  }
  rows[1].median_ms = 42.0;
  rows[2].threads = 8;  // another point
  const std::vector<std::int64_t> ids = f.store.add_measurements(rows);
  ASSERT_EQ(ids.size(), 3u);
  const auto four = f.store.latest_measurement({.key = "conv2d:k=3", .device_id = f.device, .threads = 4});
  ASSERT_TRUE(four.has_value());
  EXPECT_EQ(four->id, ids[1]);
  EXPECT_EQ(four->median_ms, 42.0);
  EXPECT_EQ(f.store.latest_measurement({.key = "conv2d:k=3", .device_id = f.device, .threads = 8})->id, ids[2]);
  EXPECT_FALSE(f.store.latest_measurement({.key = "conv2d:k=3", .device_id = f.device, .threads = 4,
                                           .dtype = "bf16"}));
  EXPECT_FALSE(f.store.latest_measurement({.key = "conv2d:k=3", .device_id = f.device + 1, .threads = 4}));
  EXPECT_FALSE(f.store.latest_measurement({.key = "conv2d:k=3", .device_id = f.device, .threads = 4,
                                           .batch = 2}));
}

// A row flagged contended (another process had the CPUs while it was timed) answers only the run
// that stored it; any other run gets the newest trustworthy row, or none and times it again.
TEST(Store, LatestMeasurementSkipsContendedRowsOfOtherRuns) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("store contended"));
  auto row = [&](std::int64_t run, std::string flags) {
    MeasurementRow r = random_measurement(run, "dwconv:k=7", rng);
    r.threads = 2;
    r.batch = 1;
    r.flags = std::move(flags);
    return r;
  };
  const MeasurementLookup lookup{.key = "dwconv:k=7", .device_id = f.device, .threads = 2};
  const std::int64_t contended_only =
      f.store.add_measurement(row(f.run, "high_cv,contended,remeasured"));
  EXPECT_FALSE(f.store.latest_measurement(lookup)) << "no trustworthy row";
  MeasurementLookup own = lookup;
  own.own_run_id = f.run;
  ASSERT_TRUE(f.store.latest_measurement(own));
  EXPECT_EQ(f.store.latest_measurement(own)->id, contended_only);

  const std::int64_t trusted = f.store.add_measurement(row(f.run, "remeasured"));
  const std::int64_t other_run =
      f.store.begin_run({.kind = "search", .device_id = f.device, .code_version = "abc123"});
  f.store.add_measurement(row(other_run, "contended"));  // newer, but flagged
  EXPECT_EQ(f.store.latest_measurement(lookup)->id, trusted);
  EXPECT_EQ(f.store.latest_measurement(own)->id, trusted) << "another run's contended row";
  // Only the whole word is the flag.
  const std::int64_t lookalike = f.store.add_measurement(row(other_run, "uncontended_test"));
  EXPECT_EQ(f.store.latest_measurement(lookup)->id, lookalike);
}

// Bad rows, as data: what is changed, and what the message must say.
struct BadRow {
  std::function<void(MeasurementRow&)> spoil;
  std::string message;
};

TEST(Store, BadMeasurementsAreRefusedNamingTheField) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("store bad rows"));
  const BadRow cases[] = {
      {[](MeasurementRow& r) { r.median_ms = kNaN; },
       "median_ms=nan must be finite and >= 0 [linear:m=1]"},
      {[](MeasurementRow& r) { r.flops = -1; }, "flops=-1 must be finite and >= 0"},
      {[](MeasurementRow& r) { r.cv = std::numeric_limits<double>::infinity(); },
       "cv=inf must be finite, or NaN where undefined"},
      {[](MeasurementRow& r) { r.threads = 0; }, "threads=0 must be >= 1"},
      {[](MeasurementRow& r) { r.inner_repeats = -2; }, "inner_repeats=-2 must be >= 1"},
      {[](MeasurementRow& r) { r.n = 3; }, "n=3 must equal the number of samples (7)"},
      {[](MeasurementRow& r) { r.samples_ms[4] = -0.5; },
       "samples_ms[4]=-0.5 must be finite and >= 0"},
      {[](MeasurementRow& r) { r.key.clear(); }, "key='' must not be empty"},
      {[](MeasurementRow& r) { r.kind = MeasurementKind::Arch; },
       "arch_hash='' must name the measured arch when kind=arch"},
      {[](MeasurementRow& r) { r.arch_hash = "00ff"; },
       "arch_hash=00ff must be empty when kind=op"},
  };
  for (const BadRow& c : cases) {
    MeasurementRow row = random_measurement(f.run, "linear:m=1", rng);
    c.spoil(row);
    EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_measurement(row); }, c.message));
  }
  MeasurementRow json = random_measurement(f.run, "linear:m=1", rng);
  json.params_json = "{oops";
  EXPECT_TRUE(throws_with<IoError>([&] { f.store.add_measurement(json); }, "params_json_is_json"));
  EXPECT_TRUE(f.store.measurements_for_run(f.run).empty());
}

TEST(Store, MeasurementsGoOnlyIntoARunningRun) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("store run state"));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_measurement(random_measurement(77, "a:x=1", rng)); },
                                           "cannot add a measurement to run 77 does not exist [a:x=1]"));
  f.store.finish_run(f.run, RunStatus::Finished);
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.add_measurement(random_measurement(f.run, "a:x=1", rng)); },
      fmt::format("run {} is finished, not running", f.run)));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.finish_run(f.run, RunStatus::Failed); },
                                           fmt::format("cannot finish run {} as failed: run {} is finished",
                                                       f.run, f.run)));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.finish_run(5, RunStatus::Running); },
                                           "status=running must be finished, failed or unfinished"));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.begin_run({.device_id = f.device}); }, "kind=''"));
}

TEST(Store, BatchIsAllOrNothing) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("store batch"));
  const std::int64_t done = f.store.begin_run({.kind = "sweep", .device_id = f.device});
  f.store.finish_run(done, RunStatus::Finished);
  std::vector<MeasurementRow> rows;
  for (int i = 0; i < 5; ++i) rows.push_back(random_measurement(f.run, fmt::format("p:i={}", i), rng));
  rows[3].run_id = done;  // fails inside the transaction, after three inserts
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_measurements(rows); }, "[p:i=3]"));
  EXPECT_TRUE(f.store.measurements_for_run(f.run).empty());
  rows[3].run_id = f.run;
  EXPECT_EQ(f.store.add_measurements(rows).size(), 5u);
  EXPECT_EQ(f.store.measurements_for_run(f.run).size(), 5u);
}

TEST(Store, RefusesANewerSchema) {
  TempDir dir;
  const std::string path = dir.file("newer.db");
  Store::open(path);
  Database::open(path).exec(fmt::format("PRAGMA user_version = {}", latest_schema_version() + 2));
  EXPECT_TRUE(
      throws_with<IoError>([&] { Store::open(path); },
                           fmt::format("database schema version 8 is newer than this hwnas (6); "
                                       "upgrade hwnas [{}]",
                                       path)));
  EXPECT_TRUE(throws_with<IoError>([&] { Store::open(path, {.mode = OpenMode::ReadOnly}); }, "is newer"));
}

TEST(Store, RefusesAFileThatIsNotAnHwnasDatabase) {
  TempDir dir;
  const std::string garbage = dir.file("garbage.db");
  {
    std::ofstream out(garbage, std::ios::binary);
    for (int i = 0; i < 200; ++i) out << "this is a text file, not a database\n";
  }
  EXPECT_TRUE(throws_with<IoError>([&] { Store::open(garbage); }, "not an hwnas database: " + garbage));
  EXPECT_TRUE(throws_with<IoError>([&] { Store::open(garbage, {.mode = OpenMode::ReadOnly}); },
                                   "not an hwnas database: " + garbage));
  // Another program's SQLite database is not "migrated" into ours.
  const std::string foreign = dir.file("foreign.db");
  Database::open(foreign).exec("CREATE TABLE songs (title TEXT)");
  EXPECT_TRUE(throws_with<IoError>([&] { Store::open(foreign); },
                                   "not an hwnas database: " + foreign + " (an SQLite database with application_id=0"));
  // An empty file is a new store when writing, and nothing when only reading.
  const std::string empty = dir.file("empty.db");
  std::ofstream{empty};
  EXPECT_TRUE(throws_with<IoError>([&] { Store::open(empty, {.mode = OpenMode::ReadOnly}); },
                                   "not an hwnas database: " + empty + " (empty)"));
  EXPECT_EQ(Store::open(empty).schema_version(), latest_schema_version());
}

TEST(Store, ReadOnlyReadsAndRefusesWrites) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("store read-only"));
  f.store.add_measurement(random_measurement(f.run, "a:x=1", rng));
  Store reader = Store::open(f.path, {.mode = OpenMode::ReadOnly});
  EXPECT_EQ(reader.measurements_for_run(f.run).size(), 1u);
  EXPECT_TRUE(throws_with<IoError>([&] { reader.upsert_device("cpu:y", "{}"); }, "readonly"));
}

// A fake next version (7), to exercise the migration path the way a real schema change will use it.
constexpr std::string_view kFakeVersion7[] = {
    "CREATE TABLE fake_extra (id INTEGER PRIMARY KEY, note TEXT NOT NULL) STRICT",
    "ALTER TABLE runs ADD COLUMN note TEXT",
};
constexpr std::string_view kBrokenVersion7[] = {
    "CREATE TABLE half_done (x INTEGER) STRICT",
    "THIS IS NOT SQL",
};

TEST(Store, MigratesForwardOneTransactionPerVersion) {
  TempDir dir;
  const std::string path = dir.file("migrate.db");
  std::int64_t run = 0, measurement = 0;
  std::mt19937_64 rng(fresh_seed("store migrate"));
  {
    // A file of version 1 holding a run and an op measurement, as an hwnas of schema 1 left it
    // (built with SQL: a Store always prepares the statements of the latest schema).
    Database db = Database::open(path);
    for (std::string_view step : schema_migrations()[0].steps) db.exec(step);
    db.exec("PRAGMA user_version = 1");
    db.exec(
        "INSERT INTO devices (device_key, fingerprint_json, first_seen) VALUES ('cpu:a', '{}', "
        "'x')");
    db.exec(
        "INSERT INTO runs (kind, device_id, config_json, status, started_at, code_version, "
        "software_json, "
        "pid, host, process_start) VALUES ('sweep', 1, '{}', 'running', 'x', '', '{}', 1, "
        "'other.invalid', "
        "'x')");
    run = db.query_int64("SELECT max(id) FROM runs");
    db.exec(fmt::format(
        "INSERT INTO measurements (run_id, device_id, kind, key, params_json, shapes, threads, "
        "dtype, batch, impl, flops, bytes, min_ms, p10_ms, median_ms, p90_ms, p99_ms, mean_ms, n, "
        "inner_repeats, samples, repro, created_at, flags) VALUES ({}, 1, 'op', 'linear:m=1', "
        "'{{}}', '', 1, 'f32', 1, 'x', 2, 3, 1, 1, 1, 1, 1, 1, 1, 1, x'000000000000F03F', '', "
        "'2024-01-01T00:00:00.000Z', '')",
        run));
    measurement = db.query_int64("SELECT max(id) FROM measurements");
  }
  std::vector<Migration> with_v7(schema_migrations().begin(), schema_migrations().end());
  with_v7.push_back(Migration{kFakeVersion7});
  Store v7 = Store::open(path, {.migrations = with_v7});
  EXPECT_EQ(v7.schema_version(), 7);
  EXPECT_EQ(v7.run(run).value().kind, "sweep");    // data kept
  EXPECT_EQ(v7.run(run).value().uid.size(), 32u);  // version 3 gave the old run a uid
  const std::vector<MeasurementRow> kept = v7.measurements_for_run(run);
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].id, measurement);
  EXPECT_EQ(kept[0].arch_hash, "");  // version 2's new column is NULL for an old row
  EXPECT_EQ(kept[0].samples_ms, std::vector<double>{1.0});
  v7.add_measurement(random_measurement(run, "linear:m=2", rng));  // and the file takes new rows
  EXPECT_EQ(v7.measurements_for_run(run).size(), 2u);
  {
    Database db = Database::open(path, {.mode = OpenMode::ReadOnly});
    EXPECT_EQ(db.query_int64("PRAGMA user_version"), 7);
    EXPECT_EQ(db.query_int64("SELECT count(*) FROM pragma_table_info('runs') WHERE name = 'note'"), 1);
    EXPECT_EQ(db.query_int64("SELECT count(*) FROM archs"), 0);
  }
  EXPECT_TRUE(throws_with<IoError>([&] { Store::open(path); },
                                   "database schema version 7 is newer than this hwnas (6)"));
  // A fresh file goes through every version.
  const std::string fresh = dir.file("fresh.db");
  EXPECT_EQ(Store::open(fresh, {.migrations = with_v7}).schema_version(), 7);
  EXPECT_EQ(Database::open(fresh).query_int64("SELECT count(*) FROM fake_extra"), 0);
}

TEST(Store, FailedMigrationLeavesThePreviousVersion) {
  TempDir dir;
  const std::string path = dir.file("broken.db");
  Store::open(path);
  std::vector<Migration> broken(schema_migrations().begin(), schema_migrations().end());
  broken.push_back(Migration{kBrokenVersion7});
  EXPECT_TRUE(throws_with<IoError>([&] { Store::open(path, {.migrations = broken}); },
                                   "in \"THIS IS NOT SQL\""));
  Database db = Database::open(path);
  EXPECT_EQ(db.query_int64("PRAGMA user_version"), 6);
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM sqlite_schema WHERE name = 'half_done'"), 0);
  EXPECT_EQ(Store::open(path).schema_version(), 6);
}

TEST(Store, RunsOfDeadProcessesBecomeUnfinished) {
  Fixture f;
  const std::int64_t reused = f.store.begin_run({.kind = "sweep", .device_id = f.device});
  const std::int64_t gone = f.store.begin_run({.kind = "sweep", .device_id = f.device});
  const std::int64_t elsewhere = f.store.begin_run({.kind = "sweep", .device_id = f.device});
  {
    Database db = Database::open(f.path);
    // Our pid, but a process that started at another time (the pid was reused).
    db.exec(fmt::format("UPDATE runs SET process_start = 'another-boot/42' WHERE id = {}", reused));
    // A pid no process has (above Linux's largest pid_max, 2^22).
    db.exec(fmt::format("UPDATE runs SET pid = 2147483646 WHERE id = {}", gone));
    // Another machine: nothing here can tell, so it is left alone.
    db.exec(fmt::format("UPDATE runs SET host = 'some-other-host.invalid' WHERE id = {}", elsewhere));
  }
  EXPECT_EQ(f.store.mark_stale_runs_unfinished(), 2);
  EXPECT_EQ(f.store.run(reused)->status, RunStatus::Unfinished);
  EXPECT_EQ(f.store.run(gone)->status, RunStatus::Unfinished);
  EXPECT_EQ(f.store.run(elsewhere)->status, RunStatus::Running);
  // Our own run: this process is alive, so a second store opened now leaves it running.
  Store other = Store::open(f.path);
  EXPECT_EQ(other.run(f.run)->status, RunStatus::Running);
  EXPECT_EQ(other.mark_stale_runs_unfinished(), 0);
}

}  // namespace
}  // namespace hwnas
