#include "bench/claims.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <tuple>

#include "kernels/error.hpp"

namespace hwnas {

using nlohmann::json;

std::string_view to_string(ClaimKind kind) {
  switch (kind) {
    case ClaimKind::Absolute:
      return "absolute";
    case ClaimKind::Relative:
      return "relative";
    case ClaimKind::Note:
      return "note";
  }
  return "?";
}

std::string_view to_string(ClaimMetric metric) {
  switch (metric) {
    case ClaimMetric::InferenceThroughput:
      return "inference_throughput";
    case ClaimMetric::TrainingThroughput:
      return "training_throughput";
    case ClaimMetric::Latency:
      return "latency";
    case ClaimMetric::OperatorFlopsRate:
      return "operator_flops_rate";
    case ClaimMetric::AttentionOpSpeed:
      return "attention_op_speed";
  }
  return "?";
}

std::string_view to_string(Verdict verdict) {
  switch (verdict) {
    case Verdict::Holds:
      return "holds";
    case Verdict::DoesNotHold:
      return "does_not_hold";
    case Verdict::OtherDeviceClass:
      return "other_device_class";
    case Verdict::NotMeasurable:
      return "not_measurable";
  }
  return "?";
}

namespace {

constexpr std::string_view kSchema = "claims/v1";
constexpr std::array kMetrics = {ClaimMetric::InferenceThroughput, ClaimMetric::TrainingThroughput,
                                 ClaimMetric::Latency, ClaimMetric::OperatorFlopsRate,
                                 ClaimMetric::AttentionOpSpeed};

// Reads one claim; every failure names the file, the claim and the field.
class ClaimReader {
 public:
  ClaimReader(const json& j, const std::string& path, std::size_t index)
      : j_(j), path_(path), where_(fmt::format("claims[{}]", index)) {}

  [[noreturn]] void fail(std::string_view field, std::string_view got,
                         std::string_view rule) const {
    throw InvalidArgument(fmt::format("claims: {}: claim {} field '{}': got {}, {}", path_, where_,
                                      field, got, rule));
  }

  const json* find(std::string_view field) const {
    auto it = j_.find(field);
    return it == j_.end() || it->is_null() ? nullptr : &*it;
  }

  std::string text(std::string_view field, bool required) const {
    const json* v = find(field);
    if (v == nullptr) {
      if (required) fail(field, "nothing", "must be a non-empty string");
      return {};
    }
    if (!v->is_string() || (required && v->get<std::string>().empty()))
      fail(field, v->dump(), "must be a non-empty string");
    return v->get<std::string>();
  }

  std::vector<std::string> names(std::string_view field, bool required) const {
    const json* v = find(field);
    if (v == nullptr) {
      if (required) fail(field, "nothing", "must be a non-empty array of model names");
      return {};
    }
    if (!v->is_array() || (required && v->empty()))
      fail(field, v->dump(), "must be a non-empty array of model names");
    std::vector<std::string> out;
    for (const json& e : *v) {
      if (!e.is_string() || e.get<std::string>().empty())
        fail(field, v->dump(), "must hold only non-empty model names");
      out.push_back(e.get<std::string>());
    }
    return out;
  }

  std::optional<double> positive(std::string_view field) const {
    const json* v = find(field);
    if (v == nullptr) return std::nullopt;
    if (!v->is_number() || !std::isfinite(v->get<double>()) || v->get<double>() <= 0)
      fail(field, v->dump(), "must be a number > 0");
    return v->get<double>();
  }

  // An integer >= 1, or text (kept, not parsed): the ledger writes "128 (reduced only if OOM)".
  std::optional<std::int64_t> count(std::string_view field, std::string* as_text,
                                    bool text_allowed) const {
    const json* v = find(field);
    if (v == nullptr) return std::nullopt;
    if (v->is_string() && text_allowed) {
      if (as_text != nullptr) *as_text = v->get<std::string>();
      return std::nullopt;
    }
    if (!v->is_number_integer() || v->get<std::int64_t>() < 1)
      fail(field, v->dump(),
           text_allowed ? "must be an integer >= 1, text or null"
                        : "must be an integer >= 1 or null");
    if (as_text != nullptr) *as_text = std::to_string(v->get<std::int64_t>());
    return v->get<std::int64_t>();
  }

  void named(const std::string& id) { where_ = id; }

 private:
  const json& j_;
  const std::string& path_;
  std::string where_;
};

Claim read_claim(const json& j, const std::string& path, std::size_t index) {
  ClaimReader r(j, path, index);
  if (!j.is_object()) r.fail("", j.dump().substr(0, 40), "each claim must be a JSON object");
  Claim c;
  c.id = r.text("id", true);
  r.named(c.id);
  const std::string kind = r.text("kind", true);
  if (kind == "absolute") {
    c.kind = ClaimKind::Absolute;
  } else if (kind == "relative") {
    c.kind = ClaimKind::Relative;
  } else if (kind == "note") {
    c.kind = ClaimKind::Note;
  } else {
    r.fail("kind", fmt::format("'{}'", kind), "must be one of absolute, relative, note");
  }
  c.models = r.names("models", true);
  c.baseline_models = r.names("baseline_models", false);
  c.statement = r.text("statement", false);
  const std::string metric = r.text("metric", true);
  const auto known = std::find_if(kMetrics.begin(), kMetrics.end(),
                                  [&](ClaimMetric m) { return to_string(m) == metric; });
  if (known == kMetrics.end()) {
    std::vector<std::string_view> names;
    for (ClaimMetric m : kMetrics) names.push_back(to_string(m));
    r.fail("metric", fmt::format("'{}'", metric),
           fmt::format("must be one of {}", fmt::join(names, ", ")));
  }
  c.metric = *known;
  c.unit = r.text("unit", false);
  c.value = r.positive("value");
  c.ratio = r.positive("ratio");
  if (c.kind == ClaimKind::Absolute) {
    if (!c.value) r.fail("value", "nothing", "an absolute claim must state a number > 0");
    const bool time = c.metric == ClaimMetric::Latency;
    const bool rate =
        c.metric == ClaimMetric::InferenceThroughput || c.metric == ClaimMetric::TrainingThroughput;
    if ((time && c.unit != "ms") || (rate && c.unit != "img/s")) {
      r.fail("unit", fmt::format("'{}'", c.unit),
             fmt::format("an absolute {} must be in {}", metric, time ? "ms" : "img/s"));
    }
  }
  c.device = r.text("device", false);
  c.device_class = r.text("device_class", true);
  c.batch = r.count("batch_size", &c.batch_text, true);
  c.resolution = r.count("resolution", nullptr, true);
  if (const std::optional<std::int64_t> t = r.count("threads", nullptr, false)) {
    if (*t > 4096) r.fail("threads", std::to_string(*t), "must be <= 4096");
    c.threads = static_cast<int>(*t);
  }
  c.precision = r.text("precision", false);
  c.software = r.text("software", false);
  if (const json* source = r.find("source"); source != nullptr && source->is_object()) {
    const auto ref = source->find("ref");
    if (ref != source->end() && ref->is_string()) c.source = ref->get<std::string>();
  }
  return c;
}

}  // namespace

ClaimsLedger parse_claims(std::string_view json_text, const std::string& path) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw InvalidArgument(fmt::format("claims: {}: not valid JSON: {}", path, e.what()));
  }
  if (!j.is_object()) throw InvalidArgument(fmt::format("claims: {}: must be a JSON object", path));
  ClaimsLedger ledger{.path = path};
  const auto schema = j.find("schema");
  if (schema == j.end() || !schema->is_string() || *schema != kSchema) {
    throw InvalidArgument(fmt::format("claims: {}: field 'schema': got {}, must be \"{}\"", path,
                                      schema == j.end() ? "nothing" : schema->dump(), kSchema));
  }
  ledger.schema = *schema;
  const auto claims = j.find("claims");
  if (claims == j.end() || !claims->is_array()) {
    throw InvalidArgument(
        fmt::format("claims: {}: field 'claims': must be an array of claims", path));
  }
  std::set<std::string> ids;
  for (std::size_t i = 0; i < claims->size(); ++i) {
    Claim c = read_claim((*claims)[i], path, i);
    if (!ids.insert(c.id).second) {
      throw InvalidArgument(fmt::format(
          "claims: {}: claim {} field 'id': got '{}' again (claims[{}]), ids must be unique", path,
          c.id, c.id, i));
    }
    ledger.claims.push_back(std::move(c));
  }
  return ledger;
}

ClaimsLedger load_claims_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(fmt::format("claims: cannot open {}", path));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("claims: cannot read {}", path));
  return parse_claims(text.str(), path);
}

std::string default_claims_path() {
  return (std::filesystem::path(HWNAS_SOURCE_DIR) / "reports" / "claims" / "claims.json").string();
}

std::string this_device_class() {
#if defined(__aarch64__) || defined(__arm__)
  return "cpu_arm";
#else
  return "cpu_x86";
#endif
}

// ---------------------------------------------------------------------------------------------------
// Plans

namespace {

bool is_cpu(std::string_view device_class) { return device_class.starts_with("cpu_"); }

bool starts_with_icase(std::string_view text, std::string_view prefix) {
  if (text.size() < prefix.size()) return false;
  for (std::size_t i = 0; i < prefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(text[i])) != prefix[i]) return false;
  }
  return true;
}

// Why this build cannot measure the claim as stated (empty: it can), in the order a reader would
// ask: the device, the models, what is measured, how.
std::string why_not_measurable(const Claim& c, const std::vector<std::string>& models,
                               const PlanOptions& o) {
  std::vector<std::string> missing;
  for (const std::string& m : models) {
    if (std::find(o.catalog.begin(), o.catalog.end(), m) == o.catalog.end()) missing.push_back(m);
  }
  if (!missing.empty()) return fmt::format("not in the catalog: {}", fmt::join(missing, ", "));
  if (c.metric != ClaimMetric::InferenceThroughput && c.metric != ClaimMetric::Latency) {
    return fmt::format("metric {}: hwnas times inference of whole models only",
                       to_string(c.metric));
  }
  if (!c.batch) {
    return c.batch_text.empty() ? "no batch size stated"
                                : fmt::format("batch size not a number: '{}'", c.batch_text);
  }
  if (!c.resolution) return "no resolution stated";
  if (!starts_with_icase(c.precision, "fp32")) {
    return c.precision.empty()
               ? "no precision stated (this build runs f32 only)"
               : fmt::format("precision '{}': this build runs f32 only", c.precision);
  }
  return {};
}

ModelSetup setup_of(const Claim& c, const std::string& model) {
  return {.model = model,
          .batch = *c.batch,
          .resolution = *c.resolution,
          .threads = c.threads.value_or(0)};
}

std::vector<std::string> all_models(const Claim& c) {
  std::vector<std::string> models = c.models;
  models.insert(models.end(), c.baseline_models.begin(), c.baseline_models.end());
  return models;
}

ClaimPlan plan_one(const Claim& c, const PlanOptions& o) {
  ClaimPlan p{.id = c.id,
              .kind = c.kind == ClaimKind::Absolute ? PlanKind::Absolute : PlanKind::Ratio,
              .statement = c.statement,
              .metric = std::string(to_string(c.metric)),
              .device = c.device,
              .device_class = c.device_class};
  if (c.kind == ClaimKind::Absolute) {
    p.models = {c.models.front()};
    p.claimed = *c.value;
    p.unit = c.unit;
  } else {
    p.models = {c.models.front()};
    if (!c.baseline_models.empty()) p.models.push_back(c.baseline_models.front());
    p.claimed = c.ratio.value_or(0);
    p.unit = "x";
  }
  const auto refuse = [&](Verdict v, std::string reason) {
    p.verdict = v;
    p.reason = std::move(reason);
    return p;
  };
  if (c.kind == ClaimKind::Note) return refuse(Verdict::NotMeasurable, "a note, not a number");
  const std::string why = why_not_measurable(c, all_models(c), o);
  if (c.device_class != o.device_class) {
    if (!is_cpu(c.device_class) && c.device_class.find("gpu") == std::string::npos &&
        c.device_class != "mobile") {
      return refuse(Verdict::NotMeasurable,
                    fmt::format("device class '{}' ({}): no device to compare with", c.device_class,
                                c.device.empty() ? "not stated" : c.device));
    }
    return refuse(
        Verdict::OtherDeviceClass,
        fmt::format("claimed on {} ({}); this device is {}: not measured{}", c.device_class,
                    c.device, o.device_class, why.empty() ? "" : fmt::format(" (and {})", why)));
  }
  if (!why.empty()) return refuse(Verdict::NotMeasurable, why);
  if (c.kind == ClaimKind::Relative) {
    if (!c.ratio) return refuse(Verdict::NotMeasurable, "the source states no single ratio");
    if (c.baseline_models.empty()) return refuse(Verdict::NotMeasurable, "no baseline model");
    p.setups = {setup_of(c, p.models[0]), setup_of(c, p.models[1])};
    return p;
  }
  p.setups = {setup_of(c, p.models[0])};
  p.verdict = Verdict::OtherDeviceClass;
  p.reason = fmt::format(
      "an absolute number from {}: not comparable across machines; judged as ratios to the "
      "other models of its table",
      c.device);
  return p;
}

// Ratio of speeds (images/s) of a over b, from two absolute claims of one table (same batch).
double implied_speed_ratio(const Claim& a, const Claim& b) {
  return a.metric == ClaimMetric::Latency ? *b.value / *a.value : *a.value / *b.value;
}

}  // namespace

std::vector<ClaimPlan> plan_claims(const ClaimsLedger& ledger, const PlanOptions& options) {
  std::vector<ClaimPlan> plans;
  // The absolute claims measurable here, by source table.
  using TableKey = std::tuple<std::string, std::string, std::string, std::string, std::string, int,
                              std::string, std::string>;
  std::map<TableKey, std::vector<std::size_t>> tables;
  for (std::size_t i = 0; i < ledger.claims.size(); ++i) {
    const Claim& c = ledger.claims[i];
    plans.push_back(plan_one(c, options));
    if (c.kind == ClaimKind::Absolute && !plans.back().setups.empty()) {
      tables[{c.source, c.device, std::string(to_string(c.metric)), c.unit, c.batch_text,
              c.threads.value_or(0), c.precision, c.software}]
          .push_back(i);
    }
  }
  std::vector<ClaimPlan> derived;
  for (const auto& [key, members] : tables) {
    for (std::size_t x = 0; x < members.size(); ++x) {
      for (std::size_t y = x + 1; y < members.size(); ++y) {
        const Claim& a = ledger.claims[members[x]];
        const Claim& b = ledger.claims[members[y]];
        if (a.models.front() == b.models.front()) continue;
        derived.push_back(
            {.id = fmt::format("{}/{}", a.id, b.id),
             .kind = PlanKind::Ratio,
             .statement = fmt::format("{} vs {}: {:g} vs {:g} {} ({})", a.models.front(),
                                      b.models.front(), *a.value, *b.value, a.unit, a.source),
             .metric = std::string(to_string(a.metric)),
             .device = a.device,
             .device_class = a.device_class,
             .models = {a.models.front(), b.models.front()},
             .claimed = implied_speed_ratio(a, b),
             .unit = "x",
             .setups = {setup_of(a, a.models.front()), setup_of(b, b.models.front())},
             .reason = fmt::format("implied by {} and {}", a.id, b.id)});
      }
    }
  }
  // Derived ratios in ledger order of their first claim, then their second.
  std::stable_sort(derived.begin(), derived.end(),
                   [](const ClaimPlan& l, const ClaimPlan& r) { return l.id < r.id; });
  plans.insert(plans.end(), derived.begin(), derived.end());
  return plans;
}

// ---------------------------------------------------------------------------------------------------
// Arithmetic

RatioEstimate ratio_estimate(std::span<const double> values) {
  if (values.empty()) throw InvalidArgument("ratio_estimate: no values (rounds must be >= 1)");
  std::vector<double> x(values.begin(), values.end());
  for (double v : x) {
    if (!(std::isfinite(v) && v > 0))
      throw InvalidArgument(
          fmt::format("ratio_estimate: got {}, values must be finite and > 0", v));
  }
  std::sort(x.begin(), x.end());
  const int n = static_cast<int>(x.size());
  RatioEstimate e{.rounds = n};
  e.median = n % 2 == 1 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
  // P(B <= j) for B ~ Binomial(n, 1/2): [x_(k), x_(n+1-k)] covers the median with probability
  // 1 - 2 P(B <= k - 1).
  std::vector<double> cdf(n + 1);
  double pmf = std::pow(0.5, n), sum = 0;
  for (int j = 0; j <= n; ++j) {
    sum += pmf;
    cdf[j] = sum;
    pmf = pmf * (n - j) / (j + 1);
  }
  int k = 1;
  while (k + 1 <= (n + 1) / 2 && 1 - 2 * cdf[k] >= 0.95) ++k;
  e.ci_low = x[k - 1];
  e.ci_high = x[n - k];
  e.ci_level = n == 1 ? 0.0 : 1 - 2 * cdf[k - 1];
  return e;
}

ClaimOutcome judge_ratio(double claimed, const RatioEstimate& m, double tolerance) {
  if (!(std::isfinite(claimed) && claimed > 0))
    throw InvalidArgument(fmt::format("judge_ratio: claimed={} must be finite and > 0", claimed));
  if (!(tolerance >= 0))
    throw InvalidArgument(fmt::format("judge_ratio: tolerance={} must be >= 0", tolerance));
  const double lo = claimed / (1 + tolerance), hi = claimed * (1 + tolerance);
  ClaimOutcome o{.quotient = m.median / claimed};
  const bool meets = m.ci_high >= lo && m.ci_low <= hi;
  o.verdict = meets ? Verdict::Holds : Verdict::DoesNotHold;
  // A CI wider than the band cannot tell a claim from its neighbours: say so beside the verdict.
  o.conclusive = m.ci_high / m.ci_low <= hi / lo;
  o.reason = fmt::format(
      "measured {:.3f} [{:.3f}, {:.3f}] ({} rounds, {:.0f} % CI) {} claimed {:.3f} within {:.0f} % "
      "[{:.3f}, {:.3f}]{}",
      m.median, m.ci_low, m.ci_high, m.rounds, 100 * m.ci_level, meets ? "meets" : "misses",
      claimed, 100 * tolerance, lo, hi,
      o.conclusive ? ""
                   : "; inconclusive: the CI is wider than the tolerance band (a noisy machine; "
                     "more --rounds on a quiet one)");
  return o;
}

}  // namespace hwnas
