// The claims ledger: the shipped file loads and its models match the catalog both ways; malformed
// files name the claim and field; planning, the order-statistic CI and the verdict rule on
// hand-made numbers.
#include "bench/claims.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <string>

#include "kernels/error.hpp"
#include "supernet/arch.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;

const fs::path kCatalog = fs::path(HWNAS_SOURCE_DIR) / "supernet" / "catalog";

std::vector<std::string> catalog_names() {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(kCatalog)) {
    if (e.path().extension() == ".json") names.push_back(e.path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

template <class E, class F>
::testing::AssertionResult throws_with(F&& f, const std::string& substring) {
  try {
    f();
  } catch (const E& e) {
    if (std::string(e.what()).find(substring) != std::string::npos)
      return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "message '" << e.what() << "' lacks '" << substring << "'";
  }
  return ::testing::AssertionFailure() << "did not throw";
}

// A ledger of the given claims (JSON objects, comma-separated).
std::string ledger(const std::string& claims) {
  return fmt::format(R"({{"schema": "claims/v1", "claims": [{}]}})", claims);
}

constexpr const char* kLatencyA =
    R"({"id": "A1", "kind": "absolute", "models": ["convnext_t"], "metric": "latency",
        "unit": "ms", "value": 80, "device": "Intel X", "device_class": "cpu_x86",
        "batch_size": 1, "threads": 1, "precision": "FP32", "software": "PyTorch",
        "resolution": 224, "source": {"ref": "paper T"}})";
constexpr const char* kLatencyB =
    R"({"id": "A2", "kind": "absolute", "models": ["swin_t"], "metric": "latency",
        "unit": "ms", "value": 120, "device": "Intel X", "device_class": "cpu_x86",
        "batch_size": 1, "threads": 1, "precision": "FP32", "software": "PyTorch",
        "resolution": 224, "source": {"ref": "paper T"}})";

TEST(Claims, ShippedLedgerLoadsAndValidates) {
  const ClaimsLedger l = load_claims_file(default_claims_path());
  EXPECT_EQ(l.schema, "claims/v1");
  EXPECT_EQ(l.claims.size(), 155u);
  std::set<std::string> ids;
  for (const Claim& c : l.claims) {
    EXPECT_TRUE(ids.insert(c.id).second) << c.id;
    EXPECT_FALSE(c.models.empty()) << c.id;
    if (c.kind == ClaimKind::Absolute) {
      EXPECT_TRUE(c.value.has_value()) << c.id;
    }
  }
}

// Both directions: a claim whose models are all in the catalog is never refused for a missing
// model (and each such model loads), and one with a model outside it is refused naming it.
TEST(Claims, ShippedLedgerModelsMatchTheCatalog) {
  const ClaimsLedger l = load_claims_file(default_claims_path());
  const std::vector<std::string> catalog = catalog_names();
  const std::vector<ClaimPlan> plans =
      plan_claims(l, {.catalog = catalog, .device_class = "cpu_x86"});
  ASSERT_GE(plans.size(), l.claims.size());
  std::set<std::string> referenced;
  for (std::size_t i = 0; i < l.claims.size(); ++i) {
    const Claim& c = l.claims[i];
    const ClaimPlan& p = plans[i];
    ASSERT_EQ(p.id, c.id);
    std::vector<std::string> missing;
    for (const auto* list : {&c.models, &c.baseline_models}) {
      for (const std::string& m : *list) {
        if (std::binary_search(catalog.begin(), catalog.end(), m)) {
          referenced.insert(m);
        } else {
          missing.push_back(m);
        }
      }
    }
    if (missing.empty()) {
      EXPECT_EQ(p.reason.find("not in the catalog"), std::string::npos) << c.id << ": " << p.reason;
    } else {
      ASSERT_TRUE(p.verdict.has_value()) << c.id;
      EXPECT_TRUE(p.setups.empty()) << c.id;
      if (c.device_class == "cpu_x86") {
        EXPECT_EQ(*p.verdict, Verdict::NotMeasurable) << c.id;
        EXPECT_NE(p.reason.find(missing.front()), std::string::npos) << c.id << ": " << p.reason;
      }
    }
  }
  for (const std::string& m : referenced) {
    EXPECT_NO_THROW(load_arch_file((kCatalog / (m + ".json")).string())) << m;
  }
  // What this CPU can judge: the ratios implied by the FasterNet and SHViT CPU tables.
  std::set<std::string> judged;
  for (const ClaimPlan& p : plans) {
    if (p.judged()) judged.insert(p.id);
  }
  EXPECT_TRUE(judged.contains("C097/C112")) << fmt::format("{}", fmt::join(judged, " "));
  EXPECT_TRUE(judged.contains("C043/C058"));
  EXPECT_GE(judged.size(), 12u);
}

TEST(Claims, MalformedFilesNameTheClaimAndField) {
  const auto fails = [](const std::string& text, const std::string& substring) {
    return throws_with<InvalidArgument>([&] { parse_claims(text, "my.json"); }, substring);
  };
  EXPECT_TRUE(fails("{not json", "claims: my.json: not valid JSON"));
  EXPECT_TRUE(fails(R"({"claims": []})", "field 'schema': got nothing, must be \"claims/v1\""));
  EXPECT_TRUE(fails(R"({"schema": "claims/v2", "claims": []})", "got \"claims/v2\""));
  EXPECT_TRUE(
      fails(R"({"schema": "claims/v1", "claims": {}})", "field 'claims': must be an array"));
  const std::string ok = kLatencyA;
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string c = ok;
    c.replace(c.find(from), from.size(), to);
    return ledger(c);
  };
  EXPECT_TRUE(fails(with(R"("metric": "latency")", R"("metric": "energy")"),
                    "claim A1 field 'metric': got 'energy', must be one of inference_throughput"));
  EXPECT_TRUE(fails(with(R"("models": ["convnext_t"],)", ""),
                    "claim A1 field 'models': got nothing, must be a non-empty array"));
  EXPECT_TRUE(fails(with(R"("models": ["convnext_t"])", R"("models": [])"), "field 'models'"));
  EXPECT_TRUE(fails(with(R"("value": 80)", R"("value": -1)"),
                    "claim A1 field 'value': got -1, must be a number > 0"));
  EXPECT_TRUE(fails(with(R"("value": 80)", R"("value": "fast")"), "field 'value': got \"fast\""));
  EXPECT_TRUE(fails(with(R"("value": 80,)", ""), "an absolute claim must state a number > 0"));
  EXPECT_TRUE(fails(with(R"("unit": "ms")", R"("unit": "img/s")"),
                    "field 'unit': got 'img/s', an absolute latency must be in ms"));
  EXPECT_TRUE(fails(with(R"("batch_size": 1)", R"("batch_size": 0)"),
                    "field 'batch_size': got 0, must be an integer >= 1"));
  EXPECT_TRUE(fails(with(R"("threads": 1)", R"("threads": "one")"), "field 'threads'"));
  EXPECT_TRUE(fails(with(R"("kind": "absolute")", R"("kind": "rumour")"),
                    "field 'kind': got 'rumour', must be one of absolute, relative, note"));
  EXPECT_TRUE(fails(with(R"("id": "A1")", R"("id": 7)"), "claim claims[0] field 'id'"));
  EXPECT_TRUE(fails(ledger(ok + "," + ok), "claim A1 field 'id': got 'A1' again (claims[1])"));
  EXPECT_TRUE(throws_with<IoError>([] { load_claims_file("/nonexistent/claims.json"); },
                                   "claims: cannot open /nonexistent/claims.json"));
}

TEST(Claims, PlansDeviceClassesAndDerivedRatios) {
  const std::string gpu =
      R"({"id": "G1", "kind": "relative", "models": ["convnext_t"], "baseline_models": ["swin_t"],
          "metric": "inference_throughput", "ratio": 1.47, "device": "A100",
          "device_class": "nvidia_gpu", "batch_size": 64, "precision": "TF32", "resolution": 224})";
  const std::string unknown =
      R"({"id": "U1", "kind": "relative", "models": ["convnext_t"], "baseline_models": ["swin_t"],
          "metric": "inference_throughput", "ratio": 1.2, "device_class": "unknown"})";
  const std::string amp =
      R"({"id": "P1", "kind": "relative", "models": ["convnext_t"], "baseline_models": ["swin_t"],
          "metric": "inference_throughput", "ratio": 1.2, "device_class": "cpu_x86",
          "batch_size": 16, "precision": "AMP fp16", "resolution": 224})";
  const std::string cpu =
      R"({"id": "R1", "kind": "relative", "models": ["convnext_t"], "baseline_models": ["swin_t"],
          "metric": "inference_throughput", "ratio": 1.3, "device_class": "cpu_x86",
          "batch_size": 16, "threads": 2, "precision": "FP32", "resolution": 192})";
  const ClaimsLedger l = parse_claims(
      ledger(fmt::format("{},{},{},{},{},{}", kLatencyA, kLatencyB, gpu, unknown, amp, cpu)),
      "t.json");
  const std::vector<ClaimPlan> plans =
      plan_claims(l, {.catalog = {"convnext_t", "swin_t"}, .device_class = "cpu_x86"});
  ASSERT_EQ(plans.size(), 7u);
  // Absolute: measured, never judged.
  EXPECT_EQ(plans[0].verdict, Verdict::OtherDeviceClass);
  ASSERT_EQ(plans[0].setups.size(), 1u);
  EXPECT_FALSE(plans[0].judged());
  EXPECT_EQ(plans[2].verdict, Verdict::OtherDeviceClass);
  EXPECT_TRUE(plans[2].setups.empty());
  EXPECT_NE(plans[2].reason.find("claimed on nvidia_gpu (A100)"), std::string::npos);
  EXPECT_EQ(plans[3].verdict, Verdict::NotMeasurable);
  EXPECT_EQ(plans[4].verdict, Verdict::NotMeasurable);
  EXPECT_NE(plans[4].reason.find("precision 'AMP fp16': this build runs f32 only"),
            std::string::npos);
  EXPECT_TRUE(plans[5].judged());
  EXPECT_EQ(plans[5].setups[0], (ModelSetup{"convnext_t", 16, 192, 2}));
  EXPECT_EQ(plans[5].setups[1], (ModelSetup{"swin_t", 16, 192, 2}));
  // The derived ratio: latency 80 vs 120 ms is a speed ratio of 1.5 for convnext_t over swin_t.
  EXPECT_EQ(plans[6].id, "A1/A2");
  EXPECT_TRUE(plans[6].judged());
  EXPECT_DOUBLE_EQ(plans[6].claimed, 1.5);
  EXPECT_EQ(plans[6].models, (std::vector<std::string>{"convnext_t", "swin_t"}));
  // On an Arm CPU the same x86 claims are another device class.
  const std::vector<ClaimPlan> arm =
      plan_claims(l, {.catalog = {"convnext_t", "swin_t"}, .device_class = "cpu_arm"});
  EXPECT_EQ(arm.size(), 6u);  // no derived ratio: nothing is measured
  EXPECT_EQ(arm[5].verdict, Verdict::OtherDeviceClass);
}

TEST(Claims, OrderStatisticIntervalOnHandMadeRounds) {
  const std::vector<double> five = {5, 1, 4, 2, 3};
  RatioEstimate e = ratio_estimate(five);
  EXPECT_EQ(e.median, 3);
  EXPECT_EQ(e.ci_low, 1);
  EXPECT_EQ(e.ci_high, 5);
  EXPECT_DOUBLE_EQ(e.ci_level, 1 - 2.0 / 32);  // min..max of 5: 93.75 %
  EXPECT_EQ(e.rounds, 5);
  // n = 10: [x_(2), x_(9)] covers 1 - 2 * 11 / 1024 = 97.9 %; [x_(3), x_(8)] only 89 %.
  const std::vector<double> ten = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  e = ratio_estimate(ten);
  EXPECT_DOUBLE_EQ(e.median, 5.5);
  EXPECT_EQ(e.ci_low, 2);
  EXPECT_EQ(e.ci_high, 9);
  EXPECT_DOUBLE_EQ(e.ci_level, 1 - 2 * 11.0 / 1024);
  const std::vector<double> one = {2.5};
  e = ratio_estimate(one);
  EXPECT_EQ(e.median, 2.5);
  EXPECT_EQ(e.ci_low, 2.5);
  EXPECT_EQ(e.ci_level, 0);
  EXPECT_TRUE(throws_with<InvalidArgument>([] { ratio_estimate({}); }, "no values"));
  const std::vector<double> bad = {1, 0};
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { ratio_estimate(bad); }, "got 0"));
}

TEST(Claims, VerdictWithinTheTolerance) {
  const auto est = [](double median, double lo, double hi) {
    return RatioEstimate{
        .median = median, .ci_low = lo, .ci_high = hi, .ci_level = 0.95, .rounds = 10};
  };
  // Claimed 2.0 within 10 %: [1.818, 2.2].
  ClaimOutcome o = judge_ratio(2.0, est(1.8, 1.7, 1.85), 0.10);
  EXPECT_EQ(o.verdict, Verdict::Holds);
  EXPECT_DOUBLE_EQ(o.quotient, 0.9);
  EXPECT_NE(o.reason.find("meets claimed 2.000 within 10 % [1.818, 2.200]"), std::string::npos)
      << o.reason;
  o = judge_ratio(2.0, est(1.6, 1.5, 1.7), 0.10);
  EXPECT_EQ(o.verdict, Verdict::DoesNotHold);
  EXPECT_DOUBLE_EQ(o.quotient, 0.8);
  EXPECT_EQ(judge_ratio(2.0, est(2.5, 2.3, 2.7), 0.10).verdict, Verdict::DoesNotHold);
  EXPECT_EQ(judge_ratio(2.0, est(2.5, 2.3, 2.7), 0.20).verdict, Verdict::Holds);
  // A CI wider than the band decides nothing: the verdict says so.
  o = judge_ratio(2.0, est(2.0, 1.0, 4.0), 0.10);
  EXPECT_EQ(o.verdict, Verdict::Holds);
  EXPECT_FALSE(o.conclusive);
  EXPECT_NE(o.reason.find("inconclusive: the CI is wider than the tolerance band"),
            std::string::npos);
  EXPECT_TRUE(judge_ratio(2.0, est(1.8, 1.7, 1.85), 0.10).conclusive);
  // A claim of a slowdown is judged alike: 0.5 within 10 % is [0.4545, 0.55].
  EXPECT_EQ(judge_ratio(0.5, est(0.55, 0.54, 0.56), 0.10).verdict, Verdict::Holds);
  EXPECT_EQ(judge_ratio(0.5, est(0.58, 0.56, 0.6), 0.10).verdict, Verdict::DoesNotHold);
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { judge_ratio(0, est(1, 1, 1), 0.1); },
                                           "claimed=0 must be finite and > 0"));
  EXPECT_TRUE(throws_with<InvalidArgument>([&] { judge_ratio(1, est(1, 1, 1), -0.1); },
                                           "tolerance=-0.1 must be >= 0"));
}

}  // namespace
}  // namespace hwnas
