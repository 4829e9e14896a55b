// How `hwnas reproduce` shows its claim results: a terminal table, a Markdown table (-o FILE.md)
// and JSON (--json), all from the rows it stored, so what is shown is what the store holds.
#pragma once

#include <nlohmann/json.hpp>
#include <span>
#include <string>

#include "store/store.hpp"

namespace hwnas::cli {

// "1.47x" for a ratio, "36 img/s" / "33.5 ms" otherwise; "-" for NaN.
std::string format_claim_value(double value, const std::string& unit);

// One line per claim: id, verdict, claimed, measured [CI], quotient, models, reason; then a count
// of each verdict.
std::string claims_table(std::span<const ClaimResultRow> rows);

// The same as a Markdown table, under a heading naming the run and the device.
std::string claims_markdown(std::span<const ClaimResultRow> rows, std::int64_t run_id,
                            const std::string& device);

// One object per claim: id, models, metric, unit, claimed, measured, ci_low, ci_high, quotient,
// verdict, reason, rounds, tolerance, device (the claim's), setups; NaN as null.
nlohmann::json claims_json(std::span<const ClaimResultRow> rows);

}  // namespace hwnas::cli
