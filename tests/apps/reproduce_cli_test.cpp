// `hwnas reproduce` as a user runs it: the real binary, a tiny claims file of two small catalog
// models at resolution 64, the quick policy, two rounds.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "store/store.hpp"
#include "tests/apps/cli_test_util.hpp"

namespace hwnas {
namespace {

using testing::run_hwnas_in;
using testing::ScratchDir;

constexpr const char* kClaims = R"({"schema": "claims/v1", "claims": [
  {"id": "T1", "kind": "absolute", "models": ["poolformer_s12"], "metric": "latency", "unit": "ms",
   "value": 4.0, "device": "Some CPU", "device_class": "cpu_x86", "batch_size": 1, "threads": 1,
   "precision": "FP32", "software": "x", "resolution": 64, "source": {"ref": "table"}},
  {"id": "T2", "kind": "absolute", "models": ["convnext_t"], "metric": "latency", "unit": "ms",
   "value": 8.0, "device": "Some CPU", "device_class": "cpu_x86", "batch_size": 1, "threads": 1,
   "precision": "FP32", "software": "x", "resolution": 64, "source": {"ref": "table"}},
  {"id": "G1", "kind": "relative", "models": ["convnext_t"], "baseline_models": ["swin_t"],
   "metric": "inference_throughput", "ratio": 1.47, "device": "A100", "device_class": "nvidia_gpu",
   "batch_size": 64, "precision": "TF32", "resolution": 224},
  {"id": "M1", "kind": "relative", "models": ["convnext_t"], "baseline_models": ["resnet50"],
   "metric": "inference_throughput", "ratio": 0.8, "device": "Xeon", "device_class": "cpu_x86",
   "batch_size": 16, "threads": 1, "precision": "FP32", "resolution": 224}
]})";

TEST(ReproduceCli, MeasuresJudgesAndStoresATinyLedger) {
  ScratchDir dir;
  std::ofstream(dir.path() / "claims.json") << kClaims;
  const testing::CliResult r = run_hwnas_in(
      "reproduce --claims claims.json --rounds 2 --policy quick --db t.db --json -o repro.md "
      "--log-level warn",
      dir.path());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json out = nlohmann::json::parse(r.out);
  ASSERT_EQ(out.size(), 5u) << r.out;
  std::map<std::string, nlohmann::json> by_id;
  for (const nlohmann::json& c : out) by_id[c["id"]] = c;
  for (const char* key :
       {"id", "models", "metric", "claimed", "measured", "quotient", "verdict", "reason"}) {
    EXPECT_TRUE(out[0].contains(key)) << key;
  }
  EXPECT_EQ(by_id["T1"]["verdict"], "other_device_class");
  EXPECT_GT(by_id["T1"]["measured"].get<double>(), 0);
  const nlohmann::json& derived = by_id["T1/T2"];
  EXPECT_DOUBLE_EQ(derived["claimed"].get<double>(), 2.0);
  EXPECT_TRUE(derived["verdict"] == "holds" || derived["verdict"] == "does_not_hold") << derived;
  EXPECT_GT(derived["quotient"].get<double>(), 0);
  EXPECT_EQ(by_id["G1"]["verdict"], "other_device_class");
  EXPECT_TRUE(by_id["G1"]["measured"].is_null());
  EXPECT_EQ(by_id["M1"]["verdict"], "not_measurable");
  EXPECT_NE(by_id["M1"]["reason"].get<std::string>().find("not in the catalog: resnet50"),
            std::string::npos);

  Store store = Store::open((dir.path() / "t.db").string());
  const std::vector<RunRow> runs = store.runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].kind, "reproduce");
  EXPECT_EQ(store.measurements_for_run(runs[0].id).size(), 4u);  // 2 models x 2 rounds
  EXPECT_EQ(store.claim_results(runs[0].id).size(), 5u);
  std::ifstream md(dir.path() / "repro.md");
  std::stringstream buffer;
  buffer << md.rdbuf();
  const std::string text = buffer.str();
  EXPECT_NE(text.find("| T1/T2 |"), std::string::npos) << text;
}

TEST(ReproduceCli, BadInputIsExitTwoWithTheReason) {
  ScratchDir dir;
  std::ofstream(dir.path() / "bad.json")
      << R"({"schema": "claims/v1", "claims": [{"id": "X", "kind": "relative", "models": ["a"],
             "metric": "speed", "device_class": "cpu_x86"}]})";
  testing::CliResult r = run_hwnas_in("reproduce --claims bad.json --db t.db", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("claims: bad.json: claim X field 'metric': got 'speed'"), std::string::npos)
      << r.err;
  r = run_hwnas_in("reproduce --claims missing.json --db t.db", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("claims: cannot open missing.json"), std::string::npos) << r.err;
  r = run_hwnas_in("reproduce --only C999 --db t.db", dir.path());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--only C999: no such claim in the ledger"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(dir.path() / "t.db"));  // bad input writes nothing
}

}  // namespace
}  // namespace hwnas
