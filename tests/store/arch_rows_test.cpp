// The archs and layer_times tables (schema version 2): what `hwnas bench` stores for an
// architecture.
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
using testing::fresh_seed;
using testing::random_measurement;
using testing::TempDir;
using testing::throws_with;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A store with a running run, one stored arch and one Arch measurement of it.
struct Fixture {
  std::mt19937_64 rng{fresh_seed("arch rows")};
  TempDir dir;
  std::string path = dir.file("hwnas.db");
  Store store = Store::open(path);
  std::int64_t device = store.upsert_device("cpu:test", "{}");
  std::int64_t run = store.begin_run({.kind = "bench", .device_id = device});
  ArchRow arch{.hash = "3f2a9c0b7d1e4a56",
               .canonical_json = R"({"in_chans":3,"stages":[{"width":19}]})",
               .name = "tiny"};
  std::int64_t measurement = add_arch_measurement();

  std::int64_t add_arch_measurement() {
    store.upsert_arch(arch);
    MeasurementRow row = random_measurement(run, "arch:" + arch.hash + ",batch=3,res=37", rng);
    row.kind = MeasurementKind::Arch;
    row.arch_hash = arch.hash;
    return store.add_measurement(row);
  }

  // A layer with random, pairwise different values in every field.
  LayerTimeRow random_layer(std::int64_t idx, int n_samples = 5) {
    std::uniform_real_distribution<double> ms(0.01, 10.0);
    LayerTimeRow r{.measurement_id = measurement,
                   .idx = idx,
                   .name = fmt::format("stages.0.blocks.{}.0.mixer", idx),
                   .kind = "mixer",
                   .key = fmt::format("window_attention:n=3,h={},w=9,c=19", idx + 5),
                   .flops = ms(rng) * 1e6,
                   .bytes = ms(rng) * 1e5,
                   .params = ms(rng) * 1e3,
                   .min_ms = ms(rng),
                   .p10_ms = ms(rng),
                   .median_ms = ms(rng),
                   .p90_ms = ms(rng),
                   .mean_ms = ms(rng),
                   .cv = ms(rng) / 10,
                   .share = ms(rng) / 10,
                   .n = n_samples,
                   .inner_repeats = 1 + static_cast<std::int64_t>(ms(rng) * 100)};
    for (int i = 0; i < n_samples; ++i) r.samples_ms.push_back(ms(rng));
    return r;
  }
};

TEST(ArchRows, ArchRoundTripsAndKeepsItsFirstName) {
  Fixture f;
  const ArchRow got = f.store.arch(f.arch.hash).value();
  EXPECT_EQ(got.hash, f.arch.hash);
  EXPECT_EQ(got.canonical_json, f.arch.canonical_json);
  EXPECT_EQ(got.name, "tiny");
  EXPECT_EQ(got.first_seen.size(), std::string_view("2024-05-01T12:34:56.789Z").size())
      << got.first_seen;
  // The same network under another name (a searched subnet equal to a catalog model) is one row.
  ArchRow renamed = f.arch;
  renamed.name = "found_by_search";
  EXPECT_EQ(f.store.upsert_arch(renamed), f.arch.hash);
  EXPECT_EQ(f.store.arch(f.arch.hash).value(), got);
  EXPECT_FALSE(f.store.arch("ffffffffffffffff").has_value());
  // The measurement points at it.
  EXPECT_EQ(f.store.measurements_for_run(f.run).at(0).arch_hash, f.arch.hash);
}

TEST(ArchRows, BadArchesAreRefused) {
  Fixture f;
  ArchRow other = f.arch;
  other.canonical_json = R"({"in_chans":1})";
  EXPECT_TRUE(throws_with<IoError>(
      [&] { f.store.upsert_arch(other); },
      "store: arch hash 3f2a9c0b7d1e4a56 is already stored for another network"));
  EXPECT_EQ(f.store.arch(f.arch.hash)->canonical_json, f.arch.canonical_json);  // left as it was
  for (const auto& [spoil, message] :
       {std::pair<void (*)(ArchRow&), const char*>{[](ArchRow& a) { a.hash.clear(); },
                                                   "arch hash='' must not be empty"},
        {[](ArchRow& a) { a.name.clear(); }, "arch name='' must not be empty"},
        {[](ArchRow& a) { a.canonical_json.clear(); },
         "arch canonical_json='' must not be empty"}}) {
    ArchRow bad = f.arch;
    bad.hash = "0000000000000001";
    spoil(bad);
    EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.upsert_arch(bad); }, message));
  }
  ArchRow not_json{.hash = "0000000000000002", .canonical_json = "{oops", .name = "x"};
  EXPECT_TRUE(
      throws_with<IoError>([&] { f.store.upsert_arch(not_json); }, "canonical_json_is_json"));
  // An Arch measurement must name a stored arch.
  MeasurementRow orphan = random_measurement(f.run, "arch:0000000000000003,batch=1,res=32", f.rng);
  orphan.kind = MeasurementKind::Arch;
  orphan.arch_hash = "0000000000000003";
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.add_measurement(orphan); },
      "cannot add a measurement of arch_hash=0000000000000003: no such arch"));
  EXPECT_EQ(f.store.measurements_for_run(f.run).size(), 1u);
}

TEST(ArchRows, LayerTimesRoundTripEveryColumnInIdxOrder) {
  Fixture f;
  std::vector<LayerTimeRow> rows = {f.random_layer(2), f.random_layer(0, 1), f.random_layer(1, 9)};
  rows[1].cv = kNaN;  // one sample: undefined
  rows[2].samples_ms[3] = 1.0 / 3.0;
  f.store.add_layer_times(rows);
  const std::vector<LayerTimeRow> got = f.store.layer_times(f.measurement);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].idx, 0);
  EXPECT_TRUE(std::isnan(got[0].cv));
  LayerTimeRow got0 = got[0], expected0 = rows[1];
  got0.cv = expected0.cv = 0;  // NaN != NaN
  EXPECT_EQ(got0, expected0);
  EXPECT_EQ(got[1], rows[2]);
  EXPECT_EQ(got[2], rows[0]);
  EXPECT_TRUE(f.store.layer_times(f.measurement + 1).empty());
  Database db = Database::open(f.path, {.mode = OpenMode::ReadOnly});
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM layer_times WHERE cv IS NULL"), 1);
}

TEST(ArchRows, BadLayerTimesAreRefusedNamingTheFieldAndWriteNothing) {
  Fixture f;
  using Spoil = void (*)(LayerTimeRow&);
  const std::pair<Spoil, const char*> cases[] = {
      {[](LayerTimeRow& r) { r.median_ms = kNaN; },
       "median_ms=nan must be finite and >= 0 [stages.0.blocks.1.0.mixer]"},
      {[](LayerTimeRow& r) { r.flops = -3; }, "flops=-3 must be finite and >= 0"},
      {[](LayerTimeRow& r) { r.params = kNaN; }, "params=nan must be finite and >= 0"},
      {[](LayerTimeRow& r) { r.share = 1.5; }, "share=1.5 must be in [0, 1]"},
      {[](LayerTimeRow& r) { r.share = kNaN; }, "share=nan must be in [0, 1]"},
      {[](LayerTimeRow& r) { r.cv = -std::numeric_limits<double>::infinity(); },
       "cv=-inf must be finite, or NaN"},
      {[](LayerTimeRow& r) { r.idx = -1; }, "idx=-1 must be >= 0"},
      {[](LayerTimeRow& r) { r.n = 2; }, "n=2 must equal the number of samples (5)"},
      {[](LayerTimeRow& r) { r.inner_repeats = 0; }, "inner_repeats=0 must be >= 1"},
      {[](LayerTimeRow& r) { r.samples_ms[2] = -1; }, "samples_ms[2]=-1 must be finite and >= 0"},
      {[](LayerTimeRow& r) { r.key.clear(); }, "key='' must not be empty"},
      {[](LayerTimeRow& r) { r.kind.clear(); }, "kind='' must not be empty"},
      {[](LayerTimeRow& r) { r.name.clear(); }, "name='' must not be empty [idx 1]"},
  };
  for (const auto& [spoil, message] : cases) {
    // A good row first: the batch is all or nothing.
    std::vector<LayerTimeRow> rows = {f.random_layer(0), f.random_layer(1)};
    spoil(rows[1]);
    EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_layer_times(rows); }, message));
  }
  EXPECT_TRUE(f.store.layer_times(f.measurement).empty());
}

TEST(ArchRows, LayerTimesGoOnlyIntoAnArchMeasurementOfARunningRun) {
  Fixture f;
  f.store.add_layer_times(std::vector{f.random_layer(0)});
  // A repeated idx: the whole batch is refused, the layer already there stays.
  std::vector<LayerTimeRow> again = {f.random_layer(1), f.random_layer(0)};
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.add_layer_times(again); },
      fmt::format("idx 0 of measurement {} is already stored", f.measurement)));
  EXPECT_EQ(f.store.layer_times(f.measurement).size(), 1u);

  LayerTimeRow missing = f.random_layer(0);
  missing.measurement_id = 999;
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.add_layer_times(std::vector{missing}); },
      "cannot add layer time 0 (stages.0.blocks.0.0.mixer): measurement 999 "
      "does not exist"));
  LayerTimeRow of_op = f.random_layer(0);
  of_op.measurement_id = f.store.add_measurement(random_measurement(f.run, "linear:m=1", f.rng));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_layer_times(std::vector{of_op}); },
                                           "is of kind op, not arch"));
  f.store.finish_run(f.run, RunStatus::Finished);
  EXPECT_TRUE(
      throws_with<InvalidArgument>([&] { f.store.add_layer_times(std::vector{f.random_layer(3)}); },
                                   fmt::format("its run {} is finished, not running", f.run)));
  EXPECT_EQ(f.store.layer_times(f.measurement).size(), 1u);
}

}  // namespace
}  // namespace hwnas
