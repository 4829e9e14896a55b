// The claim results table (schema version 4): Store's members for `hwnas reproduce`.
#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>

#include "store/row_io.hpp"
#include "store/store_state.hpp"

namespace hwnas {

using sqlite::Statement;
using sqlite::Transaction;
using store_detail::all_rows;
using store_detail::returning_id;

namespace {

constexpr std::string_view kColumns =
    "run_id, claim_id, kind, statement, models_json, setups_json, metric, unit, device, "
    "device_class, claimed, measured, ci_low, ci_high, ci_level, quotient, rounds, tolerance, "
    "verdict, reason";

// Only a running run takes results, and a claim only once per run.
constexpr std::string_view kInsert = R"sql(
INSERT INTO claim_results (run_id, claim_id, kind, statement, models_json, setups_json, metric, unit,
                           device, device_class, claimed, measured, ci_low, ci_high, ci_level,
                           quotient, rounds, tolerance, verdict, reason)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20
FROM runs WHERE runs.id = ?1 AND runs.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM claim_results WHERE run_id = ?1 AND claim_id = ?2)
RETURNING 1)sql";

ClaimResultRow read_result(const Statement& s, const std::string& path) {
  ClaimResultRow r{.run_id = s.column_int64(0), .claim_id = s.column_text(1)};
  try {
    r.models = nlohmann::json::parse(s.column_text(4)).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    throw IoError(fmt::format("store: claim {} of run {} has a malformed models_json ({}) [{}]",
                              r.claim_id, r.run_id, e.what(), path));
  }
  r.kind = s.column_text(2);
  r.statement = s.column_text(3);
  r.setups_json = s.column_text(5);
  r.metric = s.column_text(6);
  r.unit = s.column_text(7);
  r.device = s.column_text(8);
  r.device_class = s.column_text(9);
  r.claimed = s.column_double(10);
  r.measured = s.column_double(11);
  r.ci_low = s.column_double(12);
  r.ci_high = s.column_double(13);
  r.ci_level = s.column_double(14);
  r.quotient = s.column_double(15);
  r.rounds = s.column_int64(16);
  r.tolerance = s.column_double(17);
  r.verdict = s.column_text(18);
  r.reason = s.column_text(19);
  return r;
}

}  // namespace

void check(const ClaimResultRow& r) {
  const auto fail = [&](std::string_view field, const auto& value, std::string_view rule) {
    throw InvalidArgument(fmt::format("store: claim result {}={} {} [run {} claim {}]", field,
                                      value, rule, r.run_id, r.claim_id));
  };
  if (r.claim_id.empty()) fail("claim_id", "''", "must not be empty");
  if (r.kind != "ratio" && r.kind != "absolute")
    fail("kind", fmt::format("'{}'", r.kind), "must be 'ratio' or 'absolute'");
  static const std::set<std::string> kVerdicts = {"holds", "does_not_hold", "other_device_class",
                                                  "not_measurable"};
  if (!kVerdicts.contains(r.verdict)) {
    fail("verdict", fmt::format("'{}'", r.verdict),
         "must be one of holds, does_not_hold, other_device_class, not_measurable");
  }
  if (!nlohmann::json::accept(r.setups_json)) fail("setups_json", r.setups_json, "must be JSON");
  if (!(std::isfinite(r.claimed) && r.claimed >= 0))
    fail("claimed", r.claimed, "must be finite and >= 0");
  for (const auto& [field, v] :
       {std::pair{"measured", r.measured}, std::pair{"ci_low", r.ci_low},
        std::pair{"ci_high", r.ci_high}, std::pair{"quotient", r.quotient}}) {
    if (!std::isnan(v) && !(std::isfinite(v) && v > 0))
      fail(field, v, "must be finite and > 0, or NaN for not measured");
  }
  if (!std::isnan(r.ci_level) && !(r.ci_level >= 0 && r.ci_level <= 1))
    fail("ci_level", r.ci_level, "must be in [0, 1], or NaN");
  if (r.rounds < 0) fail("rounds", r.rounds, "must be >= 0");
  if (!(std::isfinite(r.tolerance) && r.tolerance >= 0))
    fail("tolerance", r.tolerance, "must be finite and >= 0");
  const bool judged = r.verdict == "holds" || r.verdict == "does_not_hold";
  if (judged && std::isnan(r.measured))
    fail("measured", r.measured, fmt::format("is required for verdict {}", r.verdict));
}

namespace store_detail {

ClaimStatements::ClaimStatements(const sqlite::Database& db)
    : insert_result(db.prepare(kInsert)),
      select_results(db.prepare(fmt::format(
          "SELECT {} FROM claim_results WHERE run_id = ?1 ORDER BY rowid", kColumns))) {}

}  // namespace store_detail

void Store::add_claim_results(std::span<const ClaimResultRow> rows) {
  for (const ClaimResultRow& r : rows) check(r);  // every check before taking the write lock
  State& s = *state_;
  Transaction tx(s.db);
  for (const ClaimResultRow& r : rows) {
    Statement& q = s.claims.insert_result;
    q.bind(1, r.run_id)
        .bind(2, r.claim_id)
        .bind(3, r.kind)
        .bind(4, r.statement)
        .bind(5, nlohmann::json(r.models).dump())
        .bind(6, r.setups_json)
        .bind(7, r.metric)
        .bind(8, r.unit)
        .bind(9, r.device)
        .bind(10, r.device_class)
        .bind(11, r.claimed)
        .bind(12, r.measured)
        .bind(13, r.ci_low)
        .bind(14, r.ci_high)
        .bind(15, r.ci_level)
        .bind(16, r.quotient)
        .bind(17, r.rounds)
        .bind(18, r.tolerance)
        .bind(19, r.verdict)
        .bind(20, r.reason);
    if (!returning_id(q)) {
      const std::optional<RunRow> run =
          store_detail::first_row(s.select_run.bind(1, r.run_id), store_detail::read_run);
      const std::string why = run && run->status == RunStatus::Running
                                  ? fmt::format("it is already stored in run {}", r.run_id)
                                  : s.why_run_not_running(r.run_id);
      throw InvalidArgument(
          fmt::format("store: cannot add the result of claim {}: {}", r.claim_id, why));
    }
  }
  tx.commit();
}

std::vector<ClaimResultRow> Store::claim_results(std::int64_t run_id) const {
  const std::string& path = state_->db.path();
  return all_rows(state_->claims.select_results.bind(1, run_id),
                  [&path](const Statement& q) { return read_result(q, path); });
}

}  // namespace hwnas
