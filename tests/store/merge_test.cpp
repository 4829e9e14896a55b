// merge_store: shards of a sweep or search folded into one store without duplicates.
#include "store/merge.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <limits>
#include <random>

#include "tests/store/store_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {

inline void PrintTo(const MergeStats& s, std::ostream* os) {
  *os << fmt::format(
      "devices={} archs={} runs={} measurements={} layer_times={} generations={} candidates={} "
      "front_rows={} quality_scores={}",
      s.devices, s.archs, s.runs, s.measurements, s.layer_times, s.generations, s.candidates,
      s.front_rows, s.quality_scores);
}

namespace {

using sqlite::Database;
using sqlite::OpenMode;
using testing::fields;
using testing::fresh_seed;
using testing::random_candidate;
using testing::random_front_row;
using testing::random_generation;
using testing::random_measurement;
using testing::TempDir;
using testing::throws_with;

const ArchRow kArchA{.hash = "aaaaaaaaaaaaaaaa", .canonical_json = R"({"w":1})", .name = "a"};
const ArchRow kArchB{.hash = "bbbbbbbbbbbbbbbb", .canonical_json = R"({"w":2})", .name = "b"};
const ArchRow kArchC{.hash = "cccccccccccccccc", .canonical_json = R"({"w":3})", .name = "c"};

// A shard's store: a sweep run of `n` op measurements on `device_key`, and a bench run of one Arch
// measurement with two layer times.
struct Shard {
  Store store;
  std::int64_t device, sweep, bench;
};

LayerTimeRow layer(std::int64_t measurement, std::int64_t idx, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> ms(0.01, 5.0);
  const double t = ms(rng);
  return {.measurement_id = measurement,
          .idx = idx,
          .name = fmt::format("layer{}", idx),
          .kind = "mixer",
          .key = "linear:m=1",
          .flops = 1e6,
          .bytes = 1e5,
          .params = 10,
          .min_ms = t,
          .p10_ms = t,
          .median_ms = t,
          .p90_ms = t,
          .mean_ms = t,
          .cv = 0.01,
          .share = 0.5,
          .n = 1,
          .samples_ms = {t}};
}

Shard make_shard(const std::string& path, const std::string& device_key, const std::string& prefix,
                 int n, const ArchRow& arch, std::mt19937_64& rng) {
  Store store = Store::open(path);
  const std::int64_t device =
      store.upsert_device(device_key, fmt::format(R"({{"from":"{}"}})", path));
  const std::int64_t sweep = store.begin_run({.kind = "sweep", .device_id = device});
  for (int i = 0; i < n; ++i) {
    store.add_measurement(random_measurement(sweep, fmt::format("{}:i={}", prefix, i), rng));
  }
  store.finish_run(sweep, RunStatus::Finished);
  const std::int64_t bench = store.begin_run({.kind = "bench", .device_id = device});
  store.upsert_arch(arch);
  MeasurementRow m = random_measurement(bench, "arch:" + arch.hash, rng);
  m.kind = MeasurementKind::Arch;
  m.arch_hash = arch.hash;
  const std::int64_t id = store.add_measurement(m);
  const LayerTimeRow layers[] = {layer(id, 0, rng), layer(id, 1, rng)};
  store.add_layer_times(layers);
  store.finish_run(bench, RunStatus::Finished);
  return {std::move(store), device, sweep, bench};
}

// A run's rows as dst holds them, with the ids of this file taken out.
std::vector<MeasurementRow> measurements_without_ids(const Store& store, std::int64_t run) {
  std::vector<MeasurementRow> rows = store.measurements_for_run(run);
  for (MeasurementRow& r : rows) r.id = r.run_id = r.device_id = 0;
  return rows;
}

std::optional<RunRow> run_by_uid(const Store& store, const std::string& uid) {
  for (const RunRow& r : store.runs()) {
    if (r.uid == uid) return r;
  }
  return std::nullopt;
}

TEST(Merge, TwoShardsWithOverlappingDevicesAndArchsThenTwiceAddsNothing) {
  TempDir dir;
  std::mt19937_64 rng(fresh_seed("merge shards"));
  Shard a = make_shard(dir.file("a.db"), "cpu:same", "a", 4, kArchA, rng);
  Shard b =
      make_shard(dir.file("b.db"), "cpu:same", "b", 3, kArchA, rng);  // same device, same arch
  b.store.upsert_arch(kArchB);
  const std::int64_t other_device = b.store.upsert_device("cpu:other", "{}");
  const std::int64_t other_run = b.store.begin_run({.kind = "sweep", .device_id = other_device});
  b.store.add_measurement(random_measurement(other_run, "c:i=0", rng));
  // Quality scores and a search run in b.
  b.store.upsert_quality(
      {.arch_hash = kArchA.hash, .method = "naswot", .config = "res=32", .value = 1.5});
  const std::int64_t search = b.store.begin_run({.kind = "search", .device_id = b.device});
  GenerationRow g = random_generation(search, 0, {kArchA.hash}, rng);
  std::vector<CandidateRow> cands = {random_candidate(search, 0, 0, kArchA.hash, rng),
                                     random_candidate(search, 0, 1, kArchB.hash, rng)};
  cands[1].crowding = std::numeric_limits<double>::infinity();
  b.store.add_generation(g, cands);
  const std::vector<FrontRow> front = {random_front_row(search, 0, kArchB.hash, rng)};
  b.store.set_front(search, front);

  Store out = Store::open(dir.file("out.db"));
  EXPECT_EQ(merge_store(out, dir.file("a.db")),
            (MergeStats{.devices = 1, .archs = 1, .runs = 2, .measurements = 5, .layer_times = 2}));
  EXPECT_EQ(merge_store(out, dir.file("b.db")),
            (MergeStats{.devices = 1,  // cpu:same is already there
                        .archs = 1,    // kArchA too
                        .runs = 4,
                        .measurements = 5,
                        .layer_times = 2,
                        .generations = 1,
                        .candidates = 2,
                        .front_rows = 1,
                        .quality_scores = 1}));
  // Again, either one: nothing new.
  EXPECT_EQ(merge_store(out, dir.file("a.db")), MergeStats{});
  EXPECT_EQ(merge_store(out, dir.file("b.db")), MergeStats{});

  // Every row arrived intact, under dst's ids.
  ASSERT_EQ(out.runs().size(), 6u);
  for (Shard* shard : {&a, &b}) {
    for (const RunRow& src : shard->store.runs()) {
      const std::optional<RunRow> got = run_by_uid(out, src.uid);
      ASSERT_TRUE(got.has_value()) << src.uid;
      RunRow expected = src;
      expected.id = got->id;
      expected.device_id = got->device_id;
      EXPECT_EQ(*got, expected);
      EXPECT_EQ(out.device(got->device_id)->device_key,
                shard->store.device(src.device_id)->device_key);
      EXPECT_EQ(measurements_without_ids(out, got->id),
                measurements_without_ids(shard->store, src.id));
      const std::vector<MeasurementRow> src_rows = shard->store.measurements_for_run(src.id);
      const std::vector<MeasurementRow> dst_rows = out.measurements_for_run(got->id);
      for (std::size_t i = 0; i < src_rows.size(); ++i) {
        EXPECT_EQ(dst_rows[i].device_id, got->device_id);
        std::vector<LayerTimeRow> want = shard->store.layer_times(src_rows[i].id);
        for (LayerTimeRow& l : want) l.measurement_id = dst_rows[i].id;
        EXPECT_EQ(out.layer_times(dst_rows[i].id), want);
      }
    }
  }
  const std::int64_t merged_search = run_by_uid(out, b.store.run(search)->uid)->id;
  std::vector<CandidateRow> want_cands = cands;
  for (CandidateRow& c : want_cands) c.run_id = merged_search;
  EXPECT_EQ(fields(out.candidates(merged_search)), fields(want_cands));
  EXPECT_EQ(out.generations(merged_search).size(), 1u);
  EXPECT_EQ(out.front(merged_search).size(), 1u);
  EXPECT_EQ(out.quality(kArchA.hash, "naswot", "res=32")->value, 1.5);
  // The device fingerprint of the first file to bring it is kept.
  Database db = Database::open(dir.file("out.db"), {.mode = OpenMode::ReadOnly});
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM devices"), 2);
  EXPECT_EQ(db.query_text("SELECT fingerprint_json FROM devices WHERE device_key = 'cpu:same'"),
            fmt::format(R"({{"from":"{}"}})", dir.file("a.db")));
}

TEST(Merge, ARunContinuedAfterAMergeBringsOnlyItsNewRows) {
  TempDir dir;
  std::mt19937_64 rng(fresh_seed("merge continued"));
  const std::string shard_path = dir.file("shard.db");
  Store shard = Store::open(shard_path);
  const std::int64_t device = shard.upsert_device("cpu:x", "{}");
  const std::int64_t run = shard.begin_run({.kind = "sweep", .device_id = device});
  for (int i = 0; i < 3; ++i)
    shard.add_measurement(random_measurement(run, fmt::format("p:i={}", i), rng));
  shard.finish_run(run, RunStatus::Unfinished);  // killed part-way

  Store out = Store::open(dir.file("out.db"));
  EXPECT_EQ(merge_store(out, shard_path).measurements, 3);
  const std::string uid = shard.run(run)->uid;
  EXPECT_EQ(run_by_uid(out, uid)->status, RunStatus::Unfinished);

  shard.resume_run(run, "sweep");
  for (int i = 3; i < 5; ++i)
    shard.add_measurement(random_measurement(run, fmt::format("p:i={}", i), rng));
  shard.finish_run(run, RunStatus::Finished, RunDrift{.rel = 0.01, .drifted = false});
  EXPECT_EQ(merge_store(out, shard_path), (MergeStats{.measurements = 2}));
  const RunRow merged = run_by_uid(out, uid).value();
  EXPECT_EQ(merged.status, RunStatus::Finished);  // src finished it: dst takes that
  EXPECT_EQ(merged.finished_at, shard.run(run)->finished_at);
  EXPECT_EQ(merged.drift, (RunDrift{.rel = 0.01, .drifted = false}));
  EXPECT_EQ(measurements_without_ids(out, merged.id), measurements_without_ids(shard, run));
}

TEST(Merge, ConflictingArchJsonMergesNothing) {
  TempDir dir;
  std::mt19937_64 rng(fresh_seed("merge conflict"));
  make_shard(dir.file("a.db"), "cpu:a", "a", 2, kArchA, rng);
  ArchRow changed = kArchA;
  changed.canonical_json = R"({"w":1,"extra":true})";
  make_shard(dir.file("b.db"), "cpu:b", "b", 2, changed, rng);
  Store out = Store::open(dir.file("out.db"));
  merge_store(out, dir.file("a.db"));
  EXPECT_TRUE(throws_with<IoError>(
      [&] { merge_store(out, dir.file("b.db")); },
      "merge: arch hash aaaaaaaaaaaaaaaa has another canonical JSON in " + dir.file("b.db")));
  EXPECT_EQ(out.runs().size(), 2u);  // b's device and runs were rolled back with it
  EXPECT_EQ(Database::open(dir.file("out.db")).query_int64("SELECT count(*) FROM devices"), 1);
  // The connection is usable afterwards (the source was detached).
  EXPECT_EQ(merge_store(out, dir.file("a.db")), MergeStats{});
}

TEST(Merge, RefusesItselfAndSourcesThatAreNotStoresOfThisSchema) {
  TempDir dir;
  const std::string path = dir.file("out.db");
  Store out = Store::open(path);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { merge_store(out, path); },
                                           "a store cannot be merged into itself"));
  EXPECT_TRUE(
      throws_with<IoError>([&] { merge_store(out, dir.file("missing.db")); }, "missing.db"));
  const std::string text = dir.file("text.db");
  {
    std::ofstream f(text);
    for (int i = 0; i < 200; ++i) f << "not a database\n";
  }
  EXPECT_TRUE(
      throws_with<IoError>([&] { merge_store(out, text); }, "not an hwnas database: " + text));
  const std::string newer = dir.file("newer.db");
  Store::open(newer);
  Database::open(newer).exec(fmt::format("PRAGMA user_version = {}", latest_schema_version() + 1));
  EXPECT_TRUE(throws_with<IoError>([&] { merge_store(out, newer); }, "is newer than this hwnas"));
  EXPECT_TRUE(out.runs().empty());
}

TEST(Merge, OddFileNamesAreOpenedAsThemselves) {
  TempDir dir;
  std::mt19937_64 rng(fresh_seed("merge names"));
  const std::string odd = dir.file("shard 1?mode=rw#%41.db");
  make_shard(odd, "cpu:a", "a", 1, kArchA, rng);
  Store out = Store::open(dir.file("out.db"));
  EXPECT_EQ(merge_store(out, odd).runs, 2);
}

}  // namespace
}  // namespace hwnas
