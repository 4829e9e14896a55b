// The search tables (schema version 3): generations with their candidates, the final front, and the
// quality cache. Store's members for them live here; the JSON array columns are encoded here too.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "store/row_io.hpp"
#include "store/store_state.hpp"

namespace hwnas {

using sqlite::Database;
using sqlite::Statement;
using sqlite::Transaction;
using store_detail::all_rows;
using store_detail::empty_as_null;
using store_detail::first_row;
using store_detail::read_run;
using store_detail::returning_id;

namespace {

constexpr std::string_view kNow = "strftime('%Y-%m-%dT%H:%M:%fZ', 'now')";

// Only a running run takes a generation, and only once: no row is written (and the caller explains
// why) when either fails.
constexpr std::string_view kInsertGeneration = R"sql(
INSERT INTO search_generations (run_id, generation, created_at, population_json, hypervolume,
                                reference_json, objectives_json, evaluations, cache_hits,
                                measured_checks, pred_n, pred_mape, pred_within5, pred_within10,
                                pred_kendall_tau)
SELECT ?1, ?2, coalesce(?3, {now}), ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15
FROM runs WHERE runs.id = ?1 AND runs.status = 'running'
  AND NOT EXISTS (SELECT 1 FROM search_generations WHERE run_id = ?1 AND generation = ?2)
RETURNING generation)sql";

constexpr std::string_view kGenerationColumns =
    "run_id, generation, created_at, population_json, hypervolume, reference_json, "
    "objectives_json, "
    "evaluations, cache_hits, measured_checks, pred_n, pred_mape, pred_within5, pred_within10, "
    "pred_kendall_tau";

// A candidate whose arch is not stored writes no row (the foreign key would say only "FOREIGN KEY
// constraint failed"); the caller names the hash.
constexpr std::string_view kInsertCandidate = R"sql(
INSERT INTO search_candidates (run_id, generation, idx, arch_hash, origin, latency_ms, latency_source,
                               predicted_ms, quality, quality_source, params, flops, violation, rank,
                               crowding, in_population, parents)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17
WHERE EXISTS (SELECT 1 FROM archs WHERE hash = ?4)
RETURNING idx)sql";

constexpr std::string_view kCandidateColumns =
    "run_id, generation, idx, arch_hash, origin, latency_ms, latency_source, predicted_ms, "
    "quality, "
    "quality_source, params, flops, violation, rank, crowding, in_population, parents";

constexpr std::string_view kInsertFront = R"sql(
INSERT INTO search_front (run_id, idx, arch_hash, latency_ms, latency_source, predicted_ms, quality,
                          quality_source, params, flops)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10
WHERE EXISTS (SELECT 1 FROM archs WHERE hash = ?3)
RETURNING idx)sql";

constexpr std::string_view kFrontColumns =
    "run_id, idx, arch_hash, latency_ms, latency_source, predicted_ms, quality, quality_source, "
    "params, flops";

constexpr std::string_view kUpsertQuality = R"sql(
INSERT INTO quality_scores (arch_hash, method, config, value, created_at)
SELECT ?1, ?2, ?3, ?4, {now} WHERE EXISTS (SELECT 1 FROM archs WHERE hash = ?1)
ON CONFLICT (arch_hash, method, config) DO UPDATE SET value = excluded.value,
                                                      created_at = excluded.created_at
RETURNING 1)sql";

constexpr std::string_view kSelectQuality =
    "SELECT arch_hash, method, config, value, created_at FROM quality_scores "
    "WHERE arch_hash = ?1 AND method = ?2 AND config = ?3";

// ---------------------------------------------------------------------------------------------------
// JSON array columns

template <class T>
std::string json_array(const std::vector<T>& values) {
  return nlohmann::json(values).dump();
}

template <class T>
std::vector<T> parse_array(const std::string& text, std::string_view column, std::int64_t run_id,
                           std::int64_t generation, const std::string& path) {
  try {
    return nlohmann::json::parse(text).get<std::vector<T>>();
  } catch (const nlohmann::json::exception& e) {
    throw IoError(fmt::format("store: generation {} of run {} has a malformed {} ({}) [{}]",
                              generation, run_id, column, e.what(), path));
  }
}

GenerationRow read_generation(const Statement& s, const std::string& path) {
  const std::int64_t run_id = s.column_int64(0), generation = s.column_int64(1);
  return {.run_id = run_id,
          .generation = generation,
          .created_at = s.column_text(2),
          .population = parse_array<std::string>(s.column_text(3), "population_json", run_id,
                                                 generation, path),
          .hypervolume = s.column_double(4),
          .reference =
              parse_array<double>(s.column_text(5), "reference_json", run_id, generation, path),
          .objectives = parse_array<std::string>(s.column_text(6), "objectives_json", run_id,
                                                 generation, path),
          .evaluations = s.column_int64(7),
          .cache_hits = s.column_int64(8),
          .measured_checks = s.column_int64(9),
          .pred_n = s.column_int64(10),
          .pred_mape = s.column_double(11),
          .pred_within5 = s.column_double(12),
          .pred_within10 = s.column_double(13),
          .pred_kendall_tau = s.column_double(14)};
}

CandidateRow read_candidate(const Statement& s) {
  return {.run_id = s.column_int64(0),
          .generation = s.column_int64(1),
          .idx = s.column_int64(2),
          .arch_hash = s.column_text(3),
          .origin = s.column_text(4),
          .latency_ms = s.column_double(5),
          .latency_source = s.column_text(6),
          .predicted_ms = s.column_double(7),
          .quality = s.column_double(8),
          .quality_source = s.column_text(9),
          .params = s.column_double(10),
          .flops = s.column_double(11),
          .violation = s.column_double(12),
          .rank = s.column_int64(13),
          .crowding = s.column_double(14),
          .in_population = s.column_int64(15) != 0,
          .parents = s.column_text(16)};
}

FrontRow read_front(const Statement& s) {
  return {.run_id = s.column_int64(0),
          .idx = s.column_int64(1),
          .arch_hash = s.column_text(2),
          .latency_ms = s.column_double(3),
          .latency_source = s.column_text(4),
          .predicted_ms = s.column_double(5),
          .quality = s.column_double(6),
          .quality_source = s.column_text(7),
          .params = s.column_double(8),
          .flops = s.column_double(9)};
}

QualityRow read_quality(const Statement& s) {
  return {.arch_hash = s.column_text(0),
          .method = s.column_text(1),
          .config = s.column_text(2),
          .value = s.column_double(3),
          .created_at = s.column_text(4)};
}

// ---------------------------------------------------------------------------------------------------
// Checks. `fail(field, value, rule)` throws; these name the rules the candidate and front rows
// share.

template <class Fail>
void check_objectives(const Fail& fail, const std::string& arch_hash, double latency_ms,
                      const std::string& latency_source, double predicted_ms, double quality,
                      const std::string& quality_source, double params, double flops) {
  if (arch_hash.empty()) fail("arch_hash", "''", "must name a stored arch");
  if (!(std::isfinite(latency_ms) && latency_ms >= 0))
    fail("latency_ms", latency_ms, "must be finite and >= 0");
  if (latency_source != "measured" && latency_source != "lut") {
    fail("latency_source", fmt::format("'{}'", latency_source), "must be 'measured' or 'lut'");
  }
  if (!std::isnan(predicted_ms) && !(std::isfinite(predicted_ms) && predicted_ms >= 0)) {
    fail("predicted_ms", predicted_ms, "must be finite and >= 0, or NaN for none");
  }
  if (!std::isfinite(quality)) fail("quality", quality, "must be finite");
  if (quality_source.empty()) fail("quality_source", "''", "must not be empty");
  for (const auto& [field, value] : {std::pair{"params", params}, std::pair{"flops", flops}}) {
    if (!(std::isfinite(value) && value >= 0)) fail(field, value, "must be finite and >= 0");
  }
}

}  // namespace

void check(const GenerationRow& r) {
  const auto fail = [&](std::string_view field, const auto& value, std::string_view rule) {
    throw InvalidArgument(fmt::format("store: generation {}={} {} [run {} generation {}]", field,
                                      value, rule, r.run_id, r.generation));
  };
  if (r.generation < 0) fail("generation", r.generation, "must be >= 0");
  for (std::size_t i = 0; i < r.population.size(); ++i) {
    if (r.population[i].empty())
      fail(fmt::format("population[{}]", i), "''", "must name a stored arch");
  }
  if (!(std::isfinite(r.hypervolume) && r.hypervolume >= 0)) {
    fail("hypervolume", r.hypervolume, "must be finite and >= 0");
  }
  if (r.objectives.empty()) fail("objectives", "[]", "must name at least one objective");
  for (std::size_t i = 0; i < r.objectives.size(); ++i) {
    if (r.objectives[i].empty()) fail(fmt::format("objectives[{}]", i), "''", "must not be empty");
  }
  if (r.reference.size() != r.objectives.size()) {
    fail("reference", fmt::format("[{} values]", r.reference.size()),
         fmt::format("must have one value per objective ({})", r.objectives.size()));
  }
  for (std::size_t i = 0; i < r.reference.size(); ++i) {
    if (!std::isfinite(r.reference[i]))
      fail(fmt::format("reference[{}]", i), r.reference[i], "must be finite");
  }
  for (const auto& [field, value] :
       {std::pair{"evaluations", r.evaluations}, std::pair{"cache_hits", r.cache_hits},
        std::pair{"measured_checks", r.measured_checks}, std::pair{"pred_n", r.pred_n}}) {
    if (value < 0) fail(field, value, "must be >= 0");
  }
  if (r.cache_hits > r.evaluations) {
    fail("cache_hits", r.cache_hits, fmt::format("must be <= evaluations ({})", r.evaluations));
  }
  const auto optional_in = [&](std::string_view field, double value, double lo, double hi) {
    if (!std::isnan(value) && !(value >= lo && value <= hi)) {
      fail(field, value, fmt::format("must be in [{}, {}], or NaN for none", lo, hi));
    }
  };
  optional_in("pred_mape", r.pred_mape, 0, std::numeric_limits<double>::max());
  optional_in("pred_within5", r.pred_within5, 0, 1);
  optional_in("pred_within10", r.pred_within10, 0, 1);
  optional_in("pred_kendall_tau", r.pred_kendall_tau, -1, 1);
}

void check(const CandidateRow& r) {
  const auto fail = [&](std::string_view field, const auto& value, std::string_view rule) {
    throw InvalidArgument(fmt::format("store: candidate {}={} {} [run {} generation {} idx {}]",
                                      field, value, rule, r.run_id, r.generation, r.idx));
  };
  if (r.generation < 0) fail("generation", r.generation, "must be >= 0");
  if (r.idx < 0) fail("idx", r.idx, "must be >= 0");
  if (r.origin != "initial" && r.origin != "offspring") {
    fail("origin", fmt::format("'{}'", r.origin), "must be 'initial' or 'offspring'");
  }
  const auto parents =
      std::count(r.parents.begin(), r.parents.end(), ',') + (r.parents.empty() ? 0 : 1);
  const bool empty_part =
      !r.parents.empty() && (r.parents.front() == ',' || r.parents.back() == ',' ||
                             r.parents.find(",,") != std::string::npos);
  if (r.origin == "initial" && !r.parents.empty()) {
    fail("parents", fmt::format("'{}'", r.parents), "must be empty for origin 'initial'");
  }
  if (empty_part || parents > 2) {
    fail("parents", fmt::format("'{}'", r.parents),
         "must be empty, one arch hash or two comma-separated ones");
  }
  check_objectives(fail, r.arch_hash, r.latency_ms, r.latency_source, r.predicted_ms, r.quality,
                   r.quality_source, r.params, r.flops);
  if (!(std::isfinite(r.violation) && r.violation >= 0)) {
    fail("violation", r.violation, "must be finite and >= 0 (0 = feasible)");
  }
  if (r.rank < 0) fail("rank", r.rank, "must be >= 0");
  if (!(r.crowding >= 0)) fail("crowding", r.crowding, "must be >= 0 (+inf at a front's boundary)");
}

void check(const FrontRow& r) {
  const auto fail = [&](std::string_view field, const auto& value, std::string_view rule) {
    throw InvalidArgument(
        fmt::format("store: front {}={} {} [run {} idx {}]", field, value, rule, r.run_id, r.idx));
  };
  if (r.idx < 0) fail("idx", r.idx, "must be >= 0");
  check_objectives(fail, r.arch_hash, r.latency_ms, r.latency_source, r.predicted_ms, r.quality,
                   r.quality_source, r.params, r.flops);
}

void check(const QualityRow& r) {
  const auto fail = [&](std::string_view field, const auto& value, std::string_view rule) {
    throw InvalidArgument(fmt::format("store: quality {}={} {} [{} {} {}]", field, value, rule,
                                      r.arch_hash, r.method, r.config));
  };
  for (const auto& [field, text] :
       {std::pair{"arch_hash", &r.arch_hash}, std::pair{"method", &r.method},
        std::pair{"config", &r.config}}) {
    if (text->empty()) fail(field, "''", "must not be empty");
  }
  if (!std::isfinite(r.value)) fail("value", r.value, "must be finite");
}

namespace store_detail {

SearchStatements::SearchStatements(const Database& db)
    : insert_generation(db.prepare(fmt::format(kInsertGeneration, fmt::arg("now", kNow)))),
      insert_candidate(db.prepare(kInsertCandidate)),
      select_generations(db.prepare(
          fmt::format("SELECT {} FROM search_generations WHERE run_id = ?1 ORDER BY generation",
                      kGenerationColumns))),
      select_candidates(db.prepare(
          fmt::format("SELECT {} FROM search_candidates WHERE run_id = ?1 ORDER BY generation, idx",
                      kCandidateColumns))),
      select_generation_candidates(db.prepare(fmt::format(
          "SELECT {} FROM search_candidates WHERE run_id = ?1 AND generation = ?2 ORDER BY idx",
          kCandidateColumns))),
      delete_front(db.prepare("DELETE FROM search_front WHERE run_id = ?1")),
      insert_front(db.prepare(kInsertFront)),
      select_front(db.prepare(fmt::format(
          "SELECT {} FROM search_front WHERE run_id = ?1 ORDER BY idx", kFrontColumns))),
      upsert_quality(db.prepare(fmt::format(kUpsertQuality, fmt::arg("now", kNow)))),
      select_quality(db.prepare(kSelectQuality)) {}

}  // namespace store_detail

void Store::add_generation(const GenerationRow& g, std::span<const CandidateRow> candidates) {
  check(g);  // every check before taking the write lock
  std::set<std::int64_t> seen;
  for (const CandidateRow& c : candidates) {
    check(c);
    if (c.run_id != g.run_id || c.generation != g.generation) {
      throw InvalidArgument(fmt::format(
          "store: candidate idx {} names run {} generation {}, not the generation it is added with "
          "(run {} generation {})",
          c.idx, c.run_id, c.generation, g.run_id, g.generation));
    }
    if (!seen.insert(c.idx).second) {
      throw InvalidArgument(
          fmt::format("store: candidate idx={} appears twice in generation {} of run {}", c.idx,
                      g.generation, g.run_id));
    }
  }
  State& s = *state_;
  Transaction tx(s.db);
  for (std::size_t i = 0; i < g.population.size(); ++i) {
    if (!store_detail::find_arch(s.arch, g.population[i])) {
      throw InvalidArgument(
          fmt::format("store: generation population[{}]={}: no such arch; upsert_arch it first "
                      "[run {} generation {}]",
                      i, g.population[i], g.run_id, g.generation));
    }
  }
  Statement& q = s.search.insert_generation;
  q.bind(1, g.run_id)
      .bind(2, g.generation)
      .bind(3, empty_as_null(g.created_at))
      .bind(4, json_array(g.population))
      .bind(5, g.hypervolume)
      .bind(6, json_array(g.reference))
      .bind(7, json_array(g.objectives))
      .bind(8, g.evaluations)
      .bind(9, g.cache_hits)
      .bind(10, g.measured_checks)
      .bind(11, g.pred_n)
      .bind(12, g.pred_mape)
      .bind(13, g.pred_within5)
      .bind(14, g.pred_within10)
      .bind(15, g.pred_kendall_tau);
  if (!returning_id(q)) {
    const std::optional<RunRow> run = first_row(s.select_run.bind(1, g.run_id), read_run);
    const std::string why =
        run && run->status == RunStatus::Running
            ? fmt::format("generation {} of run {} is already stored", g.generation, g.run_id)
            : s.why_run_not_running(g.run_id);
    throw InvalidArgument(fmt::format("store: cannot add generation {}: {}", g.generation, why));
  }
  for (const CandidateRow& c : candidates) {
    Statement& ins = s.search.insert_candidate;
    ins.bind(1, c.run_id)
        .bind(2, c.generation)
        .bind(3, c.idx)
        .bind(4, c.arch_hash)
        .bind(5, c.origin)
        .bind(6, c.latency_ms)
        .bind(7, c.latency_source)
        .bind(8, c.predicted_ms)
        .bind(9, c.quality)
        .bind(10, c.quality_source)
        .bind(11, c.params)
        .bind(12, c.flops)
        .bind(13, c.violation)
        .bind(14, c.rank)
        .bind(15, c.crowding)
        .bind(16, c.in_population)
        .bind(17, c.parents);
    if (!returning_id(ins)) {
      throw InvalidArgument(
          fmt::format("store: candidate arch_hash={}: no such arch; upsert_arch it first [run {} "
                      "generation {} idx {}]",
                      c.arch_hash, c.run_id, c.generation, c.idx));
    }
  }
  tx.commit();
}

std::vector<GenerationRow> Store::generations(std::int64_t run_id) const {
  const std::string& path = state_->db.path();
  return all_rows(state_->search.select_generations.bind(1, run_id),
                  [&path](const Statement& q) { return read_generation(q, path); });
}

std::vector<CandidateRow> Store::candidates(std::int64_t run_id,
                                            std::optional<std::int64_t> generation) const {
  if (generation) {
    return all_rows(
        state_->search.select_generation_candidates.bind(1, run_id).bind(2, *generation),
        read_candidate);
  }
  return all_rows(state_->search.select_candidates.bind(1, run_id), read_candidate);
}

void Store::set_front(std::int64_t run_id, std::span<const FrontRow> rows) {
  std::set<std::int64_t> seen;
  for (const FrontRow& r : rows) {
    check(r);
    if (r.run_id != run_id) {
      throw InvalidArgument(
          fmt::format("store: front row idx {} names run {}, not run {} whose front is set", r.idx,
                      r.run_id, run_id));
    }
    if (!seen.insert(r.idx).second) {
      throw InvalidArgument(
          fmt::format("store: front idx={} appears twice [run {}]", r.idx, run_id));
    }
  }
  State& s = *state_;
  Transaction tx(s.db);
  s.require_running(run_id, fmt::format("set the front of run {}", run_id));
  s.search.delete_front.bind(1, run_id).step_and_reset();
  for (const FrontRow& r : rows) {
    Statement& q = s.search.insert_front;
    q.bind(1, r.run_id)
        .bind(2, r.idx)
        .bind(3, r.arch_hash)
        .bind(4, r.latency_ms)
        .bind(5, r.latency_source)
        .bind(6, r.predicted_ms)
        .bind(7, r.quality)
        .bind(8, r.quality_source)
        .bind(9, r.params)
        .bind(10, r.flops);
    if (!returning_id(q)) {
      throw InvalidArgument(fmt::format(
          "store: front arch_hash={}: no such arch; upsert_arch it first [run {} idx {}]",
          r.arch_hash, run_id, r.idx));
    }
  }
  tx.commit();
}

std::vector<FrontRow> Store::front(std::int64_t run_id) const {
  return all_rows(state_->search.select_front.bind(1, run_id), read_front);
}

void Store::upsert_quality(const QualityRow& row) {
  check(row);
  State& s = *state_;
  Transaction tx(s.db);
  s.search.upsert_quality.bind(1, row.arch_hash)
      .bind(2, row.method)
      .bind(3, row.config)
      .bind(4, row.value);
  if (!returning_id(s.search.upsert_quality)) {
    throw InvalidArgument(
        fmt::format("store: quality arch_hash={}: no such arch; upsert_arch it first [{} {}]",
                    row.arch_hash, row.method, row.config));
  }
  tx.commit();
}

std::optional<QualityRow> Store::quality(std::string_view arch_hash, std::string_view method,
                                         std::string_view config) const {
  return first_row(state_->search.select_quality.bind(1, arch_hash).bind(2, method).bind(3, config),
                   read_quality);
}

}  // namespace hwnas
