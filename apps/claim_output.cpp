#include "apps/claim_output.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cmath>
#include <map>

namespace hwnas::cli {

namespace {

nlohmann::json number_or_null(double v) {
  return std::isnan(v) ? nlohmann::json() : nlohmann::json(v);
}

std::string measured_text(const ClaimResultRow& r) {
  if (std::isnan(r.measured)) return "-";
  std::string text = format_claim_value(r.measured, r.unit);
  if (!std::isnan(r.ci_low) && r.rounds > 1)
    text += fmt::format(" [{:.3g}, {:.3g}]", r.ci_low, r.ci_high);
  return text;
}

std::string quotient_text(double q) { return std::isnan(q) ? "-" : fmt::format("{:.2f}", q); }

}  // namespace

std::string format_claim_value(double value, const std::string& unit) {
  if (std::isnan(value)) return "-";
  if (unit == "x") return fmt::format("{:.3g}x", value);
  return fmt::format("{:.4g} {}", value, unit);
}

std::string claims_table(std::span<const ClaimResultRow> rows) {
  std::string out = fmt::format("{:<11} {:<18} {:>9} {:>26} {:>6}  {:<34} {}\n", "claim", "verdict",
                                "claimed", "measured [CI]", "quot.", "models", "reason");
  std::map<std::string, int> counts;
  for (const ClaimResultRow& r : rows) {
    ++counts[r.verdict];
    out += fmt::format("{:<11} {:<18} {:>9} {:>26} {:>6}  {:<34} {}\n", r.claim_id, r.verdict,
                       r.claimed > 0 ? format_claim_value(r.claimed, r.unit) : "-",
                       measured_text(r), quotient_text(r.quotient),
                       fmt::format("{}", fmt::join(r.models, " / ")), r.reason);
  }
  std::vector<std::string> parts;
  for (const auto& [verdict, n] : counts) parts.push_back(fmt::format("{} {}", n, verdict));
  out += fmt::format("{} claims: {}\n", rows.size(), fmt::join(parts, ", "));
  return out;
}

std::string claims_markdown(std::span<const ClaimResultRow> rows, std::int64_t run_id,
                            const std::string& device) {
  std::string out = fmt::format(
      "## Claims reproduced on {} (run {})\n\n"
      "Ratios are speed ratios (first model over second, images/s); a claim holds when the "
      "measured "
      "ratio's CI reaches within the tolerance of the claimed ratio (docs/reproduce.md).\n\n"
      "| claim | verdict | models | metric | claimed | measured [CI] | quotient | rounds | reason "
      "|\n|---|---|---|---|---|---|---|---|---|\n",
      device, run_id);
  for (const ClaimResultRow& r : rows) {
    std::string reason = r.reason;
    for (char& c : reason) {
      if (c == '|') c = '/';
    }
    out += fmt::format("| {} | {} | {} | {} | {} | {} | {} | {} | {} |\n", r.claim_id, r.verdict,
                       fmt::join(r.models, " / "), r.metric,
                       r.claimed > 0 ? format_claim_value(r.claimed, r.unit) : "-",
                       measured_text(r), quotient_text(r.quotient), r.rounds, reason);
  }
  return out;
}

nlohmann::json claims_json(std::span<const ClaimResultRow> rows) {
  nlohmann::json out = nlohmann::json::array();
  for (const ClaimResultRow& r : rows) {
    out.push_back({{"id", r.claim_id},
                   {"kind", r.kind},
                   {"statement", r.statement},
                   {"models", r.models},
                   {"metric", r.metric},
                   {"unit", r.unit},
                   {"claimed", r.claimed > 0 ? nlohmann::json(r.claimed) : nlohmann::json()},
                   {"measured", number_or_null(r.measured)},
                   {"ci_low", number_or_null(r.ci_low)},
                   {"ci_high", number_or_null(r.ci_high)},
                   {"ci_level", number_or_null(r.ci_level)},
                   {"quotient", number_or_null(r.quotient)},
                   {"verdict", r.verdict},
                   {"reason", r.reason},
                   {"rounds", r.rounds},
                   {"tolerance", r.tolerance},
                   {"device", r.device},
                   {"device_class", r.device_class},
                   {"setups", nlohmann::json::parse(r.setups_json)}});
  }
  return out;
}

}  // namespace hwnas::cli
