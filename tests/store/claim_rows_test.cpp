// The claim results table (schema version 4), as `hwnas reproduce` writes it.
#include <gtest/gtest.h>

#include <limits>
#include <random>

#include "store/merge.hpp"
#include "store/store.hpp"
#include "tests/store/store_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::fresh_seed;
using testing::TempDir;
using testing::throws_with;

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

struct Fixture {
  TempDir dir;
  Store store = Store::open(dir.file("hwnas.db"));
  std::int64_t device = store.upsert_device("cpu:test", "{}");
  std::int64_t run = store.begin_run({.kind = "reproduce", .device_id = device});
};

ClaimResultRow judged_row(std::int64_t run, std::string id, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.5, 4.0);
  const double measured = u(rng), claimed = u(rng);
  return {.run_id = run,
          .claim_id = std::move(id),
          .statement = "a is faster than b",
          .models = {"convnext_t", "swin_t"},
          .setups_json = R"([{"model":"convnext_t","batch":1,"res":224,"threads":1}])",
          .metric = "latency",
          .unit = "x",
          .device = "Intel Core i9-9900X",
          .device_class = "cpu_x86",
          .claimed = claimed,
          .measured = measured,
          .ci_low = measured * 0.9,
          .ci_high = measured * 1.1,
          .ci_level = 0.978,
          .quotient = measured / claimed,
          .rounds = 10,
          .tolerance = 0.1,
          .verdict = "does_not_hold",
          .reason = "measured ... misses claimed ..."};
}

TEST(ClaimRows, RoundTripInInsertionOrder) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("claim rows"));
  ClaimResultRow unmeasured{.run_id = f.run,
                            .claim_id = "C001",
                            .kind = "absolute",
                            .models = {"convnext_t"},
                            .metric = "training_throughput",
                            .unit = "img/s",
                            .device = "NVIDIA A100",
                            .device_class = "nvidia_gpu",
                            .claimed = 575,
                            .tolerance = 0.1,
                            .verdict = "other_device_class",
                            .reason = "claimed on nvidia_gpu"};
  const std::vector<ClaimResultRow> rows = {judged_row(f.run, "C097/C112", rng), unmeasured,
                                            judged_row(f.run, "C076", rng)};
  f.store.add_claim_results(rows);
  const std::vector<ClaimResultRow> back = f.store.claim_results(f.run);
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0], rows[0]);
  EXPECT_EQ(back[2], rows[2]);
  EXPECT_EQ(back[1].claim_id, "C001");
  EXPECT_TRUE(std::isnan(back[1].measured));
  EXPECT_TRUE(std::isnan(back[1].quotient));
  EXPECT_EQ(back[1].verdict, "other_device_class");
  EXPECT_TRUE(f.store.claim_results(f.run + 1).empty());
}

TEST(ClaimRows, RefusesBadRowsAndWritesNone) {
  Fixture f;
  std::mt19937_64 rng(fresh_seed("claim rows bad"));
  ClaimResultRow bad = judged_row(f.run, "C1", rng);
  bad.verdict = "maybe";
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        f.store.add_claim_results(std::vector{judged_row(f.run, "C0", rng), bad});
      },
      "store: claim result verdict='maybe' must be one of holds, does_not_hold"));
  EXPECT_TRUE(f.store.claim_results(f.run).empty());
  bad = judged_row(f.run, "C1", rng);
  bad.measured = kNaN;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_claim_results(std::vector{bad}); },
                                           "measured=nan is required for verdict does_not_hold"));
  bad = judged_row(f.run, "C1", rng);
  bad.ci_low = -1;
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_claim_results(std::vector{bad}); },
                                           "ci_low=-1 must be finite and > 0"));
  bad = judged_row(f.run, "", rng);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_claim_results(std::vector{bad}); },
                                           "claim_id='' must not be empty"));
  bad = judged_row(f.run, "C1", rng);
  bad.kind = "vibe";
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { f.store.add_claim_results(std::vector{bad}); },
                                           "kind='vibe' must be 'ratio' or 'absolute'"));
  // A duplicate within one call rolls the whole call back.
  const ClaimResultRow ok = judged_row(f.run, "C2", rng);
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] {
        f.store.add_claim_results(std::vector{ok, ok});
      },
      "cannot add the result of claim C2: it is already stored in run"));
  EXPECT_TRUE(f.store.claim_results(f.run).empty());
  f.store.finish_run(f.run, RunStatus::Finished);
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.add_claim_results(std::vector{ok}); },
      "cannot add the result of claim C2: run 1 is finished, not running"));
  EXPECT_TRUE(throws_with<InvalidArgument>(
      [&] { f.store.add_claim_results(std::vector{judged_row(99, "C3", rng)}); },
      "run 99 does not exist"));
}

TEST(ClaimRows, MergeCarriesThemWithTheirRunOnce) {
  Fixture src;
  std::mt19937_64 rng(fresh_seed("claim rows merge"));
  const std::vector<ClaimResultRow> rows = {judged_row(src.run, "C1", rng),
                                            judged_row(src.run, "C2", rng)};
  src.store.add_claim_results(rows);
  src.store.finish_run(src.run, RunStatus::Finished);
  TempDir dir;
  Store dst = Store::open(dir.file("dst.db"));
  const std::int64_t other =
      dst.begin_run({.kind = "bench", .device_id = dst.upsert_device("cpu:o", "{}")});
  const MergeStats first = merge_store(dst, src.store.path());
  EXPECT_EQ(first.claim_results, 2);
  const std::vector<RunRow> runs = dst.runs();
  ASSERT_EQ(runs.size(), 2u);
  const std::int64_t merged = runs[0].id == other ? runs[1].id : runs[0].id;
  std::vector<ClaimResultRow> back = dst.claim_results(merged);
  ASSERT_EQ(back.size(), 2u);
  back[0].run_id = src.run;
  EXPECT_EQ(back[0], rows[0]);
  EXPECT_EQ(merge_store(dst, src.store.path()).claim_results, 0);  // merging again adds nothing
}

}  // namespace
}  // namespace hwnas
