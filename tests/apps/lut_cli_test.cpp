// `hwnas lut` as a user runs it: the real binary in a child process, a tiny space at res 32.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "store/store.hpp"
#include "tests/apps/cli_test_util.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::kTinySpace;
using testing::run_hwnas_in;
using testing::ScratchDir;

class LutCliTest : public ::testing::Test {
 protected:
  void SetUp() override { std::ofstream(space_) << kTinySpace; }

  CliResult hwnas(const std::string& args) { return run_hwnas_in(args, dir_.path()); }

  ScratchDir dir_;
  std::string db_ = (dir_.path() / "t.db").string();
  std::string space_ = (dir_.path() / "tiny_space.json").string();
};

TEST_F(LutCliTest, JsonReportsTheHeldOutErrorAndTheStoreHasOneLutRun) {
  const std::string args = "lut --space " + space_ +
                           " --samples 3 --calibrate 2 --res 32 --policy quick --threads 1 "
                           "--seed 4 --json --log-level warn --db " +
                           db_;
  const CliResult r = hwnas(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key :
       {"mape", "worst_error", "within_5", "within_10", "kendall_tau", "run_id", "calibration",
        "uncalibrated", "archs", "archs_timed", "layers_timed", "contended"}) {
    EXPECT_TRUE(j.contains(key)) << key << " in " << r.out;
  }
  EXPECT_EQ(j["samples"], 3);
  EXPECT_EQ(j["calibrate"], 2);
  ASSERT_EQ(j["archs"].size(), 3u);
  // Two calibration pairs are fewer than five: the plain layer sum, claimed at 15 %. A subnet
  // measured while other processes had the CPUs is no pair, and is left out of the error (unless
  // every held-out one is).
  const int contended_calibration = j["contended"]["calibrate"];
  const int contended_held_out = j["contended"]["held_out"];
  EXPECT_EQ(j["calibration"]["a"], 1.0);
  EXPECT_EQ(j["calibration"]["b_ms"], 0.0);
  EXPECT_EQ(j["calibration"]["pairs"], 2 - contended_calibration);
  EXPECT_EQ(j["calibration"]["relative_error"], 0.15);
  const int judged = contended_held_out == 3 ? 3 : 3 - contended_held_out;
  double mape = 0, worst = 0;
  for (const auto& a : j["archs"]) {
    const double measured = a["measured_ms"], predicted = a["predicted_ms"];
    EXPECT_GT(measured, 0.0);
    EXPECT_EQ(predicted, a["layer_sum_ms"].get<double>());  // uncalibrated
    EXPECT_NEAR(a["error"].get<double>(), (predicted - measured) / measured, 1e-12);
    if (a["contended"].get<bool>() && judged < 3) continue;
    mape += std::abs(predicted - measured) / measured / judged;
    worst = std::max(worst, std::abs(predicted - measured) / measured);
  }
  EXPECT_NEAR(j["mape"].get<double>(), mape, 1e-12);
  EXPECT_NEAR(j["worst_error"].get<double>(), worst, 1e-12);
  EXPECT_EQ(j["mape"], j["uncalibrated"]["mape"]);
  // null only when one ranking is all ties (search/predictor_error.hpp).
  if (!j["kendall_tau"].is_null()) {
    EXPECT_GE(j["kendall_tau"].get<double>(), -1.0);
    EXPECT_LE(j["kendall_tau"].get<double>(), 1.0);
  }

  Store store = Store::open(db_);
  const std::int64_t run_id = j["run_id"];
  EXPECT_EQ(store.run(run_id)->kind, "lut");
  EXPECT_EQ(store.run(run_id)->status, RunStatus::Finished);
  const auto rows = store.measurements_for_run(run_id);
  const auto count = [&](MeasurementKind kind) {
    return std::count_if(rows.begin(), rows.end(),
                         [&](const MeasurementRow& m) { return m.kind == kind; });
  };
  EXPECT_EQ(count(MeasurementKind::Arch), j["archs_timed"].get<std::int64_t>());
  EXPECT_EQ(count(MeasurementKind::Op), j["layers_timed"].get<std::int64_t>());
  EXPECT_GE(j["archs_timed"].get<int>(), 1);

  // One predictor point per subnet drawn (a subnet drawn twice is stored once, in the role it was
  // first drawn in), in the order measured, holding the numbers the JSON printed.
  std::vector<PredictorPointRow> expected;
  std::set<std::string> seen;
  for (const auto& [set, role] :
       {std::pair{"calibration_archs", "calibrate"}, std::pair{"archs", "held_out"}}) {
    for (const auto& a : j[set]) {
      if (!seen.insert(a["arch_hash"].get<std::string>()).second) continue;
      expected.push_back({.run_id = run_id,
                          .arch_hash = a["arch_hash"],
                          .role = role,
                          .predicted_ms = a["predicted_ms"],
                          .layer_sum_ms = a["layer_sum_ms"],
                          .n_layers = a["n_layers"],
                          .measured_ms = a["measured_ms"],
                          .contended = a["contended"]});
    }
  }
  ASSERT_EQ(j["calibration_archs"].size(), 2u);
  EXPECT_EQ(store.predictor_points(run_id), expected);
  for (const PredictorPointRow& p : store.predictor_points(run_id))
    EXPECT_TRUE(store.arch(p.arch_hash).has_value()) << p.arch_hash;

  // The same command again: every arch and layer is a cache hit and the numbers are the same -
  // except entries timed while other processes had the CPUs, which are timed again, exactly those.
  const auto contended = [&](MeasurementKind kind) {
    return std::count_if(rows.begin(), rows.end(), [&](const MeasurementRow& m) {
      return m.kind == kind && ("," + m.flags + ",").find(",contended,") != std::string::npos;
    });
  };
  const CliResult again = hwnas(args);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  const auto k = nlohmann::json::parse(again.out);
  EXPECT_EQ(k["archs_timed"], contended(MeasurementKind::Arch));
  EXPECT_EQ(k["layers_timed"], contended(MeasurementKind::Op));
  if (contended(MeasurementKind::Arch) + contended(MeasurementKind::Op) == 0) {
    EXPECT_EQ(k["mape"], j["mape"]);
  }

  // The human form.
  const CliResult human = hwnas("lut --space " + space_ +
                                " --samples 2 --calibrate 1 --res 32 --policy quick --threads 1 "
                                "--log-level warn --db " +
                                db_);
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("calibrated    MAPE"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("layer sum     MAPE"), std::string::npos) << human.out;
}

TEST_F(LutCliTest, BadInputIsOneLineExitTwoAndWritesNothing) {
  const std::string bad_space = (dir_.path() / "broken.json").string();
  std::ofstream(bad_space) << "{\"name\": \"x\", \"stages\": [";
  const std::string ok = " --space " + space_ + " --res 32";
  const std::pair<std::string, std::string> cases[] = {
      {"lut" + ok + " --samples 0", "--samples 0 must be >= 1"},
      {"lut" + ok + " --calibrate -1", "--calibrate -1 must be >= 0"},
      {"lut" + ok + " --batch 0", "--batch 0 must be >= 1"},
      {"lut" + ok + " --policy slow", "--policy slow is not one of default, quick"},
      {"lut --space " + space_ + " --res 64", "--res 64 is not one of the resolutions"},
      {"lut --space " + bad_space + " --res 32", "broken.json"},
      {"lut --res 32", "--space is required"},
      {"lut --space " + (dir_.path() / "absent.json").string(), "absent.json: cannot read"},
      {"lut" + ok + " --threads 0", "threads=0"},
  };
  for (const auto& [args, message] : cases) {
    const CliResult r = hwnas(args + " --db " + db_);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << " printed: " << r.err;
    EXPECT_EQ(r.err.find("error: "), 0u) << args << " printed: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << " printed: " << r.err;
    EXPECT_FALSE(fs::exists(db_)) << args << " created the database";
  }
}

TEST_F(LutCliTest, Help) {
  const CliResult r = hwnas("lut --help");
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("--calibrate"), std::string::npos) << r.out;
}

}  // namespace
}  // namespace hwnas
