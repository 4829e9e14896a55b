// Schema version 3's run uid, Store::resume_run and Store::measured_keys: what a resumed sweep or
// search, and `hwnas merge`, rely on.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <set>

#include "store/store.hpp"
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

bool is_uid(const std::string& uid) {
  return uid.size() == 32 && uid.find_first_not_of("0123456789abcdef") == std::string::npos;
}

struct Fixture {
  TempDir dir;
  std::string path = dir.file("hwnas.db");
  Store store = Store::open(path);
  std::int64_t device = store.upsert_device("cpu:test", R"({"cores":2})");
};

TEST(RunUid, VersionTwoFileGetsAUniqueUidPerRun) {
  TempDir dir;
  const std::string path = dir.file("v2.db");
  {
    // A version-2 file with three runs, as an hwnas of schema 2 left it.
    Database db = Database::open(path);
    for (int v = 0; v < 2; ++v) {
      for (std::string_view step : schema_migrations()[static_cast<std::size_t>(v)].steps)
        db.exec(step);
    }
    db.exec("PRAGMA user_version = 2");
    db.exec(
        "INSERT INTO devices (device_key, fingerprint_json, first_seen) VALUES ('cpu:a', '{}', "
        "'x')");
    for (int i = 0; i < 3; ++i) {
      db.exec(
          "INSERT INTO runs (kind, device_id, config_json, status, started_at, code_version, "
          "software_json, pid, host, process_start) VALUES ('sweep', 1, '{}', 'finished', 'x', '', "
          "'{}', 1, 'other.invalid', 'x')");
    }
  }
  Store store = Store::open(path);
  EXPECT_EQ(store.schema_version(), latest_schema_version());
  std::set<std::string> uids;
  for (const RunRow& r : store.runs()) {
    EXPECT_TRUE(is_uid(r.uid)) << r.uid;
    uids.insert(r.uid);
  }
  EXPECT_EQ(uids.size(), 3u);
  // New runs get fresh ones, and the schema refuses a repeated or malformed uid.
  const std::int64_t device = store.upsert_device("cpu:a", "{}");
  const std::string fresh = store.run(store.begin_run({.kind = "bench", .device_id = device}))->uid;
  EXPECT_TRUE(is_uid(fresh)) << fresh;
  EXPECT_EQ(uids.count(fresh), 0u);
  Database db = Database::open(path);
  EXPECT_TRUE(throws_with<IoError>(
      [&] { db.exec(fmt::format("UPDATE runs SET uid = '{}' WHERE id = 1", fresh)); }, "UNIQUE"));
  EXPECT_TRUE(throws_with<IoError>([&] { db.exec("UPDATE runs SET uid = 'ABC' WHERE id = 1"); },
                                   "uid_is_128_bit_hex"));
}

TEST(RunUid, EveryRunGetsItsOwn) {
  Fixture f;
  std::set<std::string> uids;
  for (int i = 0; i < 50; ++i) {
    const RunRow r =
        f.store.run(f.store.begin_run({.kind = "sweep", .device_id = f.device})).value();
    EXPECT_TRUE(is_uid(r.uid)) << r.uid;
    uids.insert(r.uid);
  }
  EXPECT_EQ(uids.size(), 50u);
}

TEST(ResumeRun, DeadProcessRunContinuesWithItsIdUidConfigAndRows) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("resume dead"));
  const std::int64_t run = f.store.begin_run({.kind = "sweep",
                                              .device_id = f.device,
                                              .config_json = R"({"grid":"g.json","shard":"0/2"})"});
  f.store.add_measurement(random_measurement(run, "a:x=1", rng));
  const RunRow before = f.store.run(run).value();
  // Its process is gone: a pid no process has (above Linux's largest pid_max, 2^22).
  Database::open(f.path).exec(fmt::format("UPDATE runs SET pid = 2147483646 WHERE id = {}", run));

  const RunRow resumed = f.store.resume_run(run, "sweep");
  EXPECT_EQ(resumed, before);  // running again, owned by this process, everything else kept
  EXPECT_EQ(resumed.pid, getpid());
  EXPECT_EQ(f.store.measurements_for_run(run).size(), 1u);
  f.store.add_measurement(random_measurement(run, "b:x=2", rng));  // it takes rows again
  f.store.finish_run(run, RunStatus::Finished);
}

TEST(ResumeRun, FailedAndUnfinishedRunsLoseTheirEndAndDrift) {
  Fixture f;
  for (RunStatus status : {RunStatus::Failed, RunStatus::Unfinished}) {
    const std::int64_t run = f.store.begin_run({.kind = "search", .device_id = f.device});
    f.store.finish_run(run, status, RunDrift{.rel = 0.2, .drifted = true});
    ASSERT_TRUE(f.store.run(run)->finished_at.has_value());
    const RunRow resumed = f.store.resume_run(run, "search");
    EXPECT_EQ(resumed.status, RunStatus::Running) << to_string(status);
    EXPECT_FALSE(resumed.finished_at.has_value());
    EXPECT_FALSE(resumed.drift.has_value());
    // A second resume is refused: this process, which is alive, now runs it.
    EXPECT_TRUE(throws_with<InvalidArgument>(
        [&] { f.store.resume_run(run, "search"); },
        fmt::format("run {} is still running (process {}", run, getpid())));
  }
}

TEST(ResumeRun, RefusesWhatCannotBeContinued) {
  Fixture f;
  const std::int64_t finished = f.store.begin_run({.kind = "sweep", .device_id = f.device});
  f.store.finish_run(finished, RunStatus::Finished);
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.resume_run(finished, "sweep"); },
      fmt::format("store: cannot resume run {0}: run {0} is finished; nothing to resume",
                  finished)));

  const std::int64_t failed = f.store.begin_run({.kind = "bench", .device_id = f.device});
  f.store.finish_run(failed, RunStatus::Failed);
  EXPECT_TRUE(
      throws_with<InvalidArgument>([&] { f.store.resume_run(failed, "sweep"); },
                                   fmt::format("run {} is a bench run, not sweep", failed)));
  EXPECT_EQ(f.store.run(failed)->status, RunStatus::Failed);  // left alone

  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.resume_run(999, "sweep"); },
                                           "cannot resume run 999: run 999 does not exist"));

  // Live (this process) and unknowable (another host) owners keep their runs.
  const std::int64_t live = f.store.begin_run({.kind = "sweep", .device_id = f.device});
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.resume_run(live, "sweep"); },
                                           fmt::format("run {} is still running", live)));
  const std::int64_t elsewhere = f.store.begin_run({.kind = "sweep", .device_id = f.device});
  Database::open(f.path).exec(
      fmt::format("UPDATE runs SET host = 'some-other-host.invalid' WHERE id = {}", elsewhere));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.resume_run(elsewhere, "sweep"); },
                                           "on host some-other-host.invalid"));
  EXPECT_EQ(f.store.run(elsewhere)->status, RunStatus::Running);
}

TEST(MeasuredKeys, AreTheDistinctKeysOfTheRunSorted) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("measured keys"));
  const std::int64_t run = f.store.begin_run({.kind = "sweep", .device_id = f.device});
  const std::int64_t other = f.store.begin_run({.kind = "sweep", .device_id = f.device});
  for (const char* key : {"c:x=3", "a:x=1", "c:x=3", "b:x=2"}) {
    f.store.add_measurement(random_measurement(run, key, rng));
  }
  f.store.add_measurement(random_measurement(other, "z:x=9", rng));
  EXPECT_EQ(f.store.measured_keys(run), (std::vector<std::string>{"a:x=1", "b:x=2", "c:x=3"}));
  EXPECT_EQ(f.store.measured_keys(other), std::vector<std::string>{"z:x=9"});
  EXPECT_TRUE(f.store.measured_keys(999).empty());
}

}  // namespace
}  // namespace hwnas
