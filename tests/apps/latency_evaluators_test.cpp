// The latency evaluators against a scratch store: what is cached where, what is timed and stored,
// and the calibration's arithmetic. Small archs at res 32 under the quick policy.
#include "apps/latency_evaluators.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <set>

#include "apps/latency_calibration.hpp"
#include "bench/arch_timing.hpp"
#include "supernet/subnet.hpp"
#include "tests/store/store_test_util.hpp"
#include "tests/supernet/test_archs.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas::cli {
namespace {

using hwnas::testing::TempDir;
namespace archs = hwnas::testing::archs;

constexpr std::int64_t kRes = 32;

// A convnext_like variant per `classes`: another hash, the same body.
Arch variant(int classes) {
  Arch a = archs::convnext_like();
  a.head.num_classes = classes;
  return a;
}

class EvaluatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    store_.emplace(Store::open(dir_.file("t.db")));
    device_ = store_->upsert_device("test-device", "{}");
    run_ = store_->begin_run({.kind = "test", .device_id = device_});
  }
  // The quick policy with the contention check off: these tests are about what is cached and
  // paired, which a busy test machine must not change (contention has its own tests below, with
  // the flag set by hand).
  LatencyOptions options(std::int64_t batch = 1) const {
    MeasurePolicy policy = MeasurePolicy::quick();
    policy.max_contention = 1.0;
    return {.device_id = device_,
            .run_id = run_,
            .batch = batch,
            .resolution = kRes,
            .policy = policy,
            .seed = 7};
  }
  std::size_t rows() const { return store_->measurements_for_run(run_).size(); }
  // The distinct layer keys of an arch at kRes, batch 1.
  static std::set<std::string> layer_keys(const Arch& arch) {
    std::set<std::string> keys;
    for (const LayerInfo& l : arch_cost(arch, kRes, 1).layers) keys.insert(l.key);
    return keys;
  }

  TempDir dir_;
  std::optional<Store> store_;
  std::int64_t device_ = 0, run_ = 0;
  Engine engine_ = Engine::cpu({.threads = 1});
};

TEST_F(EvaluatorTest, MeasuredIsCachedByArchDeviceThreadsAndBatch) {
  const Arch arch = archs::swin_like();
  MeasuredLatency measured(engine_, *store_, options());
  EXPECT_EQ(measured.kind(), "measured");
  EXPECT_EQ(measured.relative_error(), 0.0);

  const LatencyEstimate first = measured.estimate(arch);
  EXPECT_FALSE(first.cache_hit);
  EXPECT_EQ(first.source, "measured");
  EXPECT_GT(first.ms, 0.0);
  EXPECT_TRUE(std::isnan(first.predicted_ms));
  EXPECT_EQ(measured.timed(), 1);
  const auto stored = store_->measurements_for_run(run_);
  ASSERT_EQ(stored.size(), 1u);
  EXPECT_EQ(stored[0].kind, MeasurementKind::Arch);
  EXPECT_EQ(stored[0].key, arch_measurement_key(arch_hash(arch), 1, kRes));
  EXPECT_EQ(stored[0].arch_hash, arch_hash(arch));
  EXPECT_EQ(stored[0].median_ms, first.ms);
  EXPECT_EQ(stored[0].threads, 1);
  EXPECT_NE(stored[0].repro.find("--res 32 --threads 1"), std::string::npos) << stored[0].repro;
  ASSERT_TRUE(store_->arch(arch_hash(arch)).has_value());

  // Again, and through a second evaluator (another search on the same store): hits, nothing new.
  const LatencyEstimate again = measured.estimate(arch);
  EXPECT_TRUE(again.cache_hit);
  EXPECT_EQ(again.ms, first.ms);
  MeasuredLatency other(engine_, *store_, options());
  EXPECT_TRUE(other.measure(arch).cache_hit);
  EXPECT_EQ(rows(), 1u);
  EXPECT_EQ(measured.timed(), 1);

  // Another batch is another question.
  MeasuredLatency batch2(engine_, *store_, options(2));
  EXPECT_FALSE(batch2.estimate(arch).cache_hit);
  EXPECT_EQ(rows(), 2u);

  // A row of the same key at other threads does not answer a 1-thread question.
  const Arch arch2 = variant(11);
  std::mt19937_64 rng(3);
  MeasurementRow row = hwnas::testing::random_measurement(
      run_, arch_measurement_key(arch_hash(arch2), 1, kRes), rng);
  row.kind = MeasurementKind::Arch;
  row.arch_hash = arch_hash(arch2);
  row.batch = 1;
  row.threads = 9;
  store_->upsert_arch({.hash = row.arch_hash, .canonical_json = to_json(arch2), .name = "v"});
  store_->add_measurement(row);
  EXPECT_FALSE(measured.estimate(arch2).cache_hit);
  row.threads = 1;  // the same row at this evaluator's threads is a hit, with its median
  store_->add_measurement(row);
  const LatencyEstimate hit = measured.estimate(arch2);
  EXPECT_TRUE(hit.cache_hit);
  EXPECT_EQ(hit.ms, row.median_ms);
}

TEST_F(EvaluatorTest, LutTimesMissingLayersOnceAndStoresThem) {
  const Arch arch = archs::swin_like();
  const std::set<std::string> keys = layer_keys(arch);
  LutLatency lut(engine_, *store_, options());
  EXPECT_EQ(lut.kind(), "lut");
  EXPECT_EQ(lut.relative_error(), kUncalibratedError);

  const LatencyEstimate first = lut.estimate(arch);
  EXPECT_FALSE(first.cache_hit);
  EXPECT_EQ(first.source, "lut");
  EXPECT_EQ(first.predicted_ms, first.ms);
  EXPECT_EQ(lut.layers_timed(), static_cast<std::int64_t>(keys.size()));
  const auto stored = store_->measurements_for_run(run_);
  ASSERT_EQ(stored.size(), keys.size());  // each distinct key once, nothing end to end
  std::set<std::string> stored_keys;
  double sum = 0;
  for (const MeasurementRow& r : stored) {
    EXPECT_EQ(r.kind, MeasurementKind::Op);
    EXPECT_EQ(r.impl, "layer");
    EXPECT_EQ(r.batch, 1);
    EXPECT_GT(r.median_ms, 0.0);
    const auto params = nlohmann::json::parse(r.params_json);
    EXPECT_EQ(params["arch_hash"], arch_hash(arch));
    EXPECT_TRUE(params["layer"].is_string());
    EXPECT_NE(r.repro.find("--layers"), std::string::npos) << r.repro;
    stored_keys.insert(r.key);
  }
  EXPECT_EQ(stored_keys, keys);
  // Uncalibrated (a = 1, b = 0): the prediction is the sum over every layer, repeats included.
  for (const LayerInfo& l : arch_cost(arch, kRes, 1).layers) {
    for (const MeasurementRow& r : stored) {
      if (r.key == l.key) sum += r.median_ms;
    }
  }
  EXPECT_NEAR(first.ms, sum, 1e-12 * sum);

  const LatencyEstimate again = lut.estimate(arch);
  EXPECT_TRUE(again.cache_hit);
  EXPECT_EQ(again.ms, first.ms);
  // A fresh evaluator finds every entry in the store.
  LutLatency fresh(engine_, *store_, options());
  const LatencyEstimate from_store = fresh.estimate(arch);
  EXPECT_TRUE(from_store.cache_hit);
  EXPECT_NEAR(from_store.ms, first.ms, 1e-12 * first.ms);
  EXPECT_EQ(fresh.layers_timed(), 0);
  EXPECT_EQ(rows(), keys.size());
}

TEST_F(EvaluatorTest, LutUsesSweepRowsWithTheSameKeys) {
  const Arch arch = archs::convnext_like();
  std::mt19937_64 rng(11);
  std::map<std::string, double> median;
  for (const std::string& key : layer_keys(arch)) {
    MeasurementRow row = hwnas::testing::random_measurement(run_, key, rng);
    row.threads = 1;
    row.batch = 1;
    row.impl = "sweep";
    store_->add_measurement(row);
    median[key] = row.median_ms;
  }
  double expected = 0;
  for (const LayerInfo& l : arch_cost(arch, kRes, 1).layers) expected += median.at(l.key);
  LutLatency lut(engine_, *store_, options());
  const LatencyEstimate e = lut.estimate(arch);
  EXPECT_TRUE(e.cache_hit);
  EXPECT_EQ(lut.layers_timed(), 0);
  EXPECT_NEAR(e.ms, expected, 1e-12 * expected);
  EXPECT_EQ(rows(), median.size());
}

// An entry another run timed while other processes had the CPUs (flag "contended") is no answer:
// the lookup table times that layer again, in this run, and keeps every other entry.
TEST_F(EvaluatorTest, LutRetimesEntriesOtherRunsTimedUnderContention) {
  const Arch arch = archs::convnext_like();
  const std::int64_t sweep = store_->begin_run({.kind = "sweep", .device_id = device_});
  std::mt19937_64 rng(13);
  const std::set<std::string> keys = layer_keys(arch);
  ASSERT_GE(keys.size(), 2u);
  const std::string contended = *std::next(keys.begin());
  for (const std::string& key : keys) {
    MeasurementRow row = hwnas::testing::random_measurement(sweep, key, rng);
    row.threads = 1;
    row.batch = 1;
    row.flags = key == contended ? "contended" : "";
    store_->add_measurement(row);
  }
  LutLatency lut(engine_, *store_, options());
  EXPECT_FALSE(lut.estimate(arch).cache_hit);
  EXPECT_EQ(lut.layers_timed(), 1);
  const auto timed = store_->measurements_for_run(run_);
  ASSERT_EQ(timed.size(), 1u);
  EXPECT_EQ(timed[0].key, contended);

  // The measured evaluator likewise: another run's contended end-to-end row is timed again.
  MeasurementRow e2e = hwnas::testing::random_measurement(
      sweep, arch_measurement_key(arch_hash(arch), 1, kRes), rng);
  e2e.kind = MeasurementKind::Arch;
  e2e.arch_hash = arch_hash(arch);
  e2e.threads = 1;
  e2e.batch = 1;
  e2e.flags = "high_cv,contended";
  store_->upsert_arch({.hash = e2e.arch_hash, .canonical_json = to_json(arch), .name = "c"});
  store_->add_measurement(e2e);
  MeasuredLatency measured(engine_, *store_, options());
  EXPECT_FALSE(measured.estimate(arch).cache_hit);
  EXPECT_EQ(measured.timed(), 1);
}

TEST_F(EvaluatorTest, LutMeasureKeepsThePredictionAndCalibratesAfterFivePairs) {
  LutLatency lut(engine_, *store_, options());
  for (int i = 0; i < 4; ++i) {
    const LatencyEstimate e = lut.measure(variant(10 + i));
    EXPECT_EQ(e.source, "measured");
    EXPECT_FALSE(e.cache_hit);
    EXPECT_GT(e.predicted_ms, 0.0);
    EXPECT_EQ(lut.calibration().pairs, static_cast<std::size_t>(i + 1));
    EXPECT_FALSE(lut.calibration().fitted());
    EXPECT_EQ(lut.relative_error(), kUncalibratedError);
  }
  // A re-measure (a cache hit) adds no second pair of the same arch.
  EXPECT_TRUE(lut.measure(variant(10)).cache_hit);
  EXPECT_EQ(lut.pairs().size(), 4u);
  lut.measure(variant(14));
  EXPECT_TRUE(lut.calibration().fitted());
  EXPECT_GE(lut.relative_error(), kMinRelativeError);
  EXPECT_EQ(lut.measured().timed(), 5);

  // Another evaluator on the same store (a resumed search) starts from the stored pairs.
  LutLatency resumed(engine_, *store_, options());
  EXPECT_EQ(resumed.add_stored_pairs(), 5u);
  EXPECT_EQ(resumed.add_stored_pairs(), 0u);
  EXPECT_EQ(resumed.layers_timed(), 0);
  EXPECT_NEAR(resumed.calibration().a, lut.calibration().a, 1e-12);
  EXPECT_NEAR(resumed.calibration().b, lut.calibration().b, 1e-12);
  // The stored pairs come back in another order, so the fit's sums round differently.
  EXPECT_NEAR(resumed.relative_error(), lut.relative_error(), 1e-9);
  LutLatency other_batch(engine_, *store_, options(2));
  EXPECT_EQ(other_batch.add_stored_pairs(), 0u);

  const LatencyCalibration before = lut.calibration();
  lut.set_updates(CalibrationUpdates::Frozen);
  lut.measure(variant(15));
  EXPECT_EQ(lut.calibration().a, before.a);
  EXPECT_EQ(lut.calibration().pairs, 5u);
}

TEST(LatencyCalibration, ExactPairsGiveExactCoefficients) {
  std::mt19937_64 rng(5);
  std::uniform_real_distribution<double> sum(0.5, 40.0), layers(10, 120);
  std::vector<CalibrationPair> pairs;
  for (int i = 0; i < 8; ++i) {
    const double s = sum(rng), n = std::round(layers(rng));
    pairs.push_back({.layer_sum_ms = s, .n_layers = n, .measured_ms = 1.25 * s + 0.004 * n});
  }
  const LatencyCalibration c = fit_calibration(pairs);
  EXPECT_NEAR(c.a, 1.25, 1e-9);
  EXPECT_NEAR(c.b, 0.004, 1e-9);
  EXPECT_EQ(c.pairs, 8u);
  EXPECT_TRUE(c.fitted());
  EXPECT_EQ(c.relative_error, kMinRelativeError);  // every leave-one-out fit is exact: the floor
  EXPECT_NEAR(c.predict(10, 50), 12.7, 1e-9);
  EXPECT_NE(describe(c).find("a=1.2500 b=0.0040ms/layer n=8"), std::string::npos) << describe(c);
}

TEST(LatencyCalibration, NegativeOverheadIsClampedToZero) {
  std::vector<CalibrationPair> pairs;
  for (int i = 1; i <= 6; ++i) {
    const double s = 3.0 * i, n = 20.0 * i * i;
    pairs.push_back({.layer_sum_ms = s, .n_layers = n, .measured_ms = 1.1 * s - 0.001 * n});
  }
  const LatencyCalibration c = fit_coefficients(pairs);
  EXPECT_EQ(c.b, 0.0);
  EXPECT_GT(c.a, 0.0);
}

// One arch timed beside another busy process (measured 2.5x too slow) among 19 good pairs with
// ~1 % noise: the Huber fit keeps a and b within a percent or two of the truth, where plain least
// squares on the same pairs is pulled several percent off.
TEST(LatencyCalibration, OneSlowOutlierDoesNotDragTheFit) {
  std::mt19937_64 rng(hwnas::testing::fresh_seed("calibration outlier"));
  std::uniform_real_distribution<double> sum(0.5, 40.0), layers(10, 120), noise(-0.01, 0.01);
  std::vector<CalibrationPair> pairs;
  for (int i = 0; i < 20; ++i) {
    const double s = sum(rng), n = std::round(layers(rng));
    pairs.push_back({.layer_sum_ms = s,
                     .n_layers = n,
                     .measured_ms = (1.15 * s + 0.01 * n) * (1 + noise(rng))});
  }
  pairs[7].measured_ms *= 2.5;
  const LatencyCalibration c = fit_coefficients(pairs);
  const double truth = 1.15 * 10 + 0.01 * 60, robust = c.predict(10, 60);
  EXPECT_NEAR(robust / truth, 1.0, 0.02) << "a=" << c.a << " b=" << c.b;
  // Plain least squares (every weight 1) on the relative residuals, for contrast: the target is
  // 1 for every pair divided by its measurement, so the slow pair pulls the scale down.
  double xx = 0, x1 = 0;
  for (const CalibrationPair& p : pairs) {
    const double x = (p.layer_sum_ms + 0.01 / 1.15 * p.n_layers) / p.measured_ms;
    xx += x * x;
    x1 += x;
  }
  const double plain_scale = x1 / xx / 1.15;  // 1 = the truth along the true direction
  EXPECT_GT(std::abs(plain_scale - 1.0), std::abs(robust / truth - 1.0));
}

TEST(LatencyCalibration, FewerThanFivePairsIsTheIdentityWithFifteenPercent) {
  std::vector<CalibrationPair> pairs;
  for (int i = 1; i <= 4; ++i) {
    pairs.push_back({.layer_sum_ms = 1.0 * i, .n_layers = 10, .measured_ms = 2.0 * i});
    const LatencyCalibration c = fit_calibration(pairs);
    EXPECT_EQ(c.a, 1.0);
    EXPECT_EQ(c.b, 0.0);
    EXPECT_EQ(c.pairs, pairs.size());
    EXPECT_FALSE(c.fitted());
    EXPECT_EQ(c.relative_error, 0.15);
    EXPECT_NE(describe(c).find("uncalibrated"), std::string::npos);
  }
}

TEST(LatencyCalibration, ErrorIsTheNinetiethPercentileOfLeaveOneOut) {
  std::mt19937_64 rng(9);
  std::uniform_real_distribution<double> sum(1.0, 30.0), noise(-0.08, 0.08);
  std::vector<CalibrationPair> pairs;
  for (int i = 0; i < 10; ++i) {
    const double s = sum(rng), n = 30 + 7 * i;
    pairs.push_back(
        {.layer_sum_ms = s, .n_layers = n, .measured_ms = (1.2 * s + 0.01 * n) * (1 + noise(rng))});
  }
  std::vector<double> errors;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    std::vector<CalibrationPair> others = pairs;
    others.erase(others.begin() + static_cast<std::ptrdiff_t>(i));
    const LatencyCalibration loo = fit_coefficients(others);
    errors.push_back(
        std::abs(loo.predict(pairs[i].layer_sum_ms, pairs[i].n_layers) - pairs[i].measured_ms) /
        pairs[i].measured_ms);
  }
  std::sort(errors.begin(), errors.end());
  const LatencyCalibration c = fit_calibration(pairs);
  EXPECT_EQ(c.relative_error, std::max(kMinRelativeError, errors[8]));  // rank ceil(0.9 * 10) = 9
  EXPECT_GT(c.relative_error, kMinRelativeError);
}

}  // namespace
}  // namespace hwnas::cli
