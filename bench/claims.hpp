// The claims ledger (published speed claims, reports/claims/claims.json) and how each claim is
// reproduced on this device: `hwnas reproduce`.
//
//   ClaimsLedger ledger = load_claims_file(default_claims_path());   // or the user's --claims FILE
//   std::vector<ClaimPlan> plans = plan_claims(ledger, {.catalog = names, .device_class =
//   "cpu_x86"});
//   ... measure every plan's setups interleaved (bench/interleaved.hpp) ...
//   ClaimOutcome o = judge_ratio(plan.claimed, ratio_estimate(per_round_ratios),
//   kDefaultTolerance);
//
// Conventions (docs/reproduce.md says why):
// - A ratio is always a speed ratio: speed of models[0] / speed of models[1], where speed is images
//   per second (batch / forward time), so > 1 means the first model is faster. The ledger's
//   relative claims use the same convention (its "ratio" is as the source states it, first model
//   over its first baseline).
// - A relative claim is judged only on its own device class; a GPU claim on a CPU is
//   other_device_class and is not measured (its batch and precision would not be the paper's).
// - An absolute claim (img/s or ms on the paper's machine) is never judged: its number belongs to
//   another machine. It is measured when its setup is measurable here (verdict other_device_class,
//   the measured value beside it), and every two absolute claims of one source table (same source,
//   device, metric, batch, threads, precision, software) imply a ratio, which is judged as a
//   derived claim "<id>/<id>".
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace hwnas {

enum class ClaimKind { Absolute, Relative, Note };
std::string_view to_string(ClaimKind kind);  // "absolute", "relative", "note"

// The metrics the ledger's schema allows (claims/v1); anything else is an InvalidArgument.
enum class ClaimMetric {
  InferenceThroughput,
  TrainingThroughput,
  Latency,
  OperatorFlopsRate,
  AttentionOpSpeed
};
std::string_view to_string(ClaimMetric metric);  // the ledger's spelling: "inference_throughput"...

// One ledger entry as the file states it. Free-text fields are kept verbatim; numbers that the
// file gives as text ("128 (reduced only if OOM)") are absent from the numeric fields.
struct Claim {
  std::string id;
  ClaimKind kind = ClaimKind::Relative;
  std::vector<std::string> models;           // non-empty
  std::vector<std::string> baseline_models;  // relative claims: what models[0] is compared with
  std::string statement;
  ClaimMetric metric = ClaimMetric::InferenceThroughput;
  std::string unit;             // "img/s" or "ms" (absolute claims), else empty
  std::optional<double> value;  // absolute claims: > 0, in unit
  std::optional<double> ratio;  // relative claims: > 0; absent when the source gives none
  std::string device, device_class;
  std::optional<std::int64_t> batch;  // when the file gives an integer
  std::string batch_text;             // the file's value as text ("16", "128 (reduced ...)", "")
  std::optional<std::int64_t> resolution;
  std::optional<int> threads;
  std::string precision;  // verbatim; empty when null
  std::string software;
  std::string source;  // the source's "ref"
};

struct ClaimsLedger {
  std::string path;
  std::string schema;  // "claims/v1"
  std::vector<Claim> claims;
};

// Throws IoError for an unreadable file, InvalidArgument for a malformed one, naming the file, the
// claim id (or its index) and the field, e.g.
// "claims: my.json: claim C017 field 'ratio': got -1, must be a number > 0".
// Checked: schema "claims/v1"; a "claims" array; each claim's id (unique), kind, models (a
// non-empty array of names), metric (one of ClaimMetric), value and unit of an absolute claim,
// ratio (number > 0 or null) and baseline_models of a relative one, batch_size / resolution /
// threads (integers >= 1 where numeric). Unknown fields are kept out (the ledger carries notes).
ClaimsLedger parse_claims(std::string_view json_text, const std::string& path);
ClaimsLedger load_claims_file(const std::string& path);

// reports/claims/claims.json of the source tree this hwnas was built from.
std::string default_claims_path();

// This build's device class in the ledger's vocabulary: "cpu_x86" or "cpu_arm" (CPU engines only).
std::string this_device_class();

enum class Verdict { Holds, DoesNotHold, OtherDeviceClass, NotMeasurable };
std::string_view to_string(Verdict verdict);  // "holds", "does_not_hold", ...

// One model as a claim measured it.
struct ModelSetup {
  std::string model;  // a catalog name
  std::int64_t batch = 1;
  std::int64_t resolution = 224;
  int threads = 0;  // 0: not stated by the claim; the run's --threads
  friend auto operator<=>(const ModelSetup&, const ModelSetup&) = default;
};

enum class PlanKind { Ratio, Absolute };

// What `hwnas reproduce` does with one claim (a ledger claim, or a ratio derived from two absolute
// ones). setups is empty when nothing is measured; then verdict is set and reason says why.
struct ClaimPlan {
  std::string id;  // the claim id, or "C097/C103" for a derived ratio
  PlanKind kind = PlanKind::Ratio;
  std::string statement;
  std::string metric;  // to_string(ClaimMetric)
  std::string device, device_class;
  std::vector<std::string> models;  // Ratio: {numerator, denominator}; Absolute: {model}
  double claimed = 0;               // Ratio: speed ratio (> 0); Absolute: the value in unit
  std::string unit;                 // "x" for a ratio, else the claim's unit
  std::vector<ModelSetup> setups;   // in the order of models; empty: not measured
  std::optional<Verdict> verdict;   // decided before measuring (not_measurable, other_device_class)
  std::string reason;
  bool judged() const { return kind == PlanKind::Ratio && !verdict && !setups.empty(); }
};

struct PlanOptions {
  std::vector<std::string> catalog;  // the catalog's model names
  std::string device_class;          // this_device_class() outside tests
};

// Every ledger claim becomes one plan (in ledger order), followed by the derived ratios; a claim
// that cannot be measured keeps its plan, with verdict not_measurable and the reason (a model not
// in the catalog, a metric or precision this build cannot measure, no batch or resolution stated).
std::vector<ClaimPlan> plan_claims(const ClaimsLedger& ledger, const PlanOptions& options);

// A median over interleaved rounds with a distribution-free CI: the order statistics
// [x_(k), x_(n+1-k)] with the largest k whose binomial coverage is still >= 95 % (n >= 6), else
// the min and max (coverage 1 - 2^(1-n): 94 % at n = 5, 50 % at n = 2).
struct RatioEstimate {
  double median = 0, ci_low = 0, ci_high = 0;
  double ci_level = 0;  // the CI's exact coverage under the binomial model
  int rounds = 0;
};
// Throws InvalidArgument for no values, or a value that is not finite and > 0.
RatioEstimate ratio_estimate(std::span<const double> values);

// The claim holds when the measured CI reaches within `tolerance` of the claim: the interval
// [ci_low, ci_high] meets [claimed / (1 + tolerance), claimed * (1 + tolerance)]. The tolerance is
// multiplicative so that a ratio and its inverse are judged alike.
inline constexpr double kDefaultTolerance = 0.10;

struct ClaimOutcome {
  Verdict verdict = Verdict::NotMeasurable;
  double quotient = 0;  // measured median / claimed
  // false when the CI is wider than the tolerance band: the verdict then rests on noise (a holds
  // is only "not refuted"); the reason says so.
  bool conclusive = true;
  std::string reason;  // the numbers and the rule, one line
};
// Throws InvalidArgument for claimed <= 0 or tolerance < 0.
ClaimOutcome judge_ratio(double claimed, const RatioEstimate& measured, double tolerance);

}  // namespace hwnas
