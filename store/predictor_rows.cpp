// The predictor points table (schema version 5): Store's members for `hwnas lut`.
#include <fmt/format.h>

#include <cmath>

#include "store/row_io.hpp"
#include "store/store_state.hpp"

namespace hwnas {

using sqlite::Statement;
using sqlite::Transaction;
using store_detail::all_rows;
using store_detail::returning_id;

namespace {

constexpr std::string_view kColumns =
    "run_id, arch_hash, role, predicted_ms, layer_sum_ms, n_layers, measured_ms, contended";

// Only a running run takes points, only of a stored arch, and an arch only once per run; no row
// is written (and the caller says which rule failed) otherwise. The foreign key alone would say
// only "FOREIGN KEY constraint failed".
constexpr std::string_view kInsert = R"sql(
INSERT INTO predictor_points (run_id, arch_hash, role, predicted_ms, layer_sum_ms, n_layers,
                              measured_ms, contended)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
FROM runs WHERE runs.id = ?1 AND runs.status = 'running'
  AND EXISTS (SELECT 1 FROM archs WHERE hash = ?2)
  AND NOT EXISTS (SELECT 1 FROM predictor_points WHERE run_id = ?1 AND arch_hash = ?2)
RETURNING 1)sql";

PredictorPointRow read_point(const Statement& s) {
  return {.run_id = s.column_int64(0),
          .arch_hash = s.column_text(1),
          .role = s.column_text(2),
          .predicted_ms = s.column_double(3),
          .layer_sum_ms = s.column_double(4),
          .n_layers = s.column_double(5),
          .measured_ms = s.column_double(6),
          .contended = s.column_int64(7) != 0};
}

}  // namespace

void check(const PredictorPointRow& r) {
  const auto fail = [&](std::string_view field, const auto& value, std::string_view rule) {
    throw InvalidArgument(fmt::format("store: predictor point {}={} {} [run {} arch {}]", field,
                                      value, rule, r.run_id, r.arch_hash));
  };
  if (r.arch_hash.empty()) fail("arch_hash", "''", "must not be empty");
  if (r.role != "calibrate" && r.role != "held_out")
    fail("role", fmt::format("'{}'", r.role), "must be 'calibrate' or 'held_out'");
  for (const auto& [field, v] :
       {std::pair{"predicted_ms", r.predicted_ms}, std::pair{"layer_sum_ms", r.layer_sum_ms},
        std::pair{"measured_ms", r.measured_ms}}) {
    if (!(std::isfinite(v) && v > 0)) fail(field, v, "must be finite and > 0");
  }
  if (!(std::isfinite(r.n_layers) && r.n_layers >= 1))
    fail("n_layers", r.n_layers, "must be finite and >= 1");
}

namespace store_detail {

PredictorStatements::PredictorStatements(const sqlite::Database& db)
    : insert_point(db.prepare(kInsert)),
      select_points(db.prepare(fmt::format(
          "SELECT {} FROM predictor_points WHERE run_id = ?1 ORDER BY rowid", kColumns))) {}

}  // namespace store_detail

void Store::add_predictor_points(std::span<const PredictorPointRow> rows) {
  for (const PredictorPointRow& r : rows) check(r);  // every check before taking the write lock
  State& s = *state_;
  Transaction tx(s.db);
  for (const PredictorPointRow& r : rows) {
    Statement& q = s.predictor.insert_point;
    q.bind(1, r.run_id)
        .bind(2, r.arch_hash)
        .bind(3, r.role)
        .bind(4, r.predicted_ms)
        .bind(5, r.layer_sum_ms)
        .bind(6, r.n_layers)
        .bind(7, r.measured_ms)
        .bind(8, r.contended);
    if (returning_id(q)) continue;
    // Which rule refused it, in the order a caller fixes them.
    const std::optional<RunRow> run =
        store_detail::first_row(s.select_run.bind(1, r.run_id), store_detail::read_run);
    const std::string why =
        !run || run->status != RunStatus::Running ? s.why_run_not_running(r.run_id)
        : !store_detail::find_arch(s.arch, r.arch_hash)
            ? fmt::format("arch {} is not stored (upsert_arch first)", r.arch_hash)
            : fmt::format("it is already stored in run {}", r.run_id);
    throw InvalidArgument(
        fmt::format("store: cannot add the predictor point of arch {}: {}", r.arch_hash, why));
  }
  tx.commit();
}

std::vector<PredictorPointRow> Store::predictor_points(std::int64_t run_id) const {
  return all_rows(state_->predictor.select_points.bind(1, run_id), read_point);
}

}  // namespace hwnas
