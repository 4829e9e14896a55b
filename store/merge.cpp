#include "store/merge.hpp"

#include <fmt/format.h>

#include <filesystem>
#include <system_error>

#include "store/row_io.hpp"
#include "store/store_state.hpp"

namespace hwnas {

using sqlite::Database;
using sqlite::ScopedReset;
using sqlite::Statement;
using sqlite::Transaction;

namespace {

// The source is attached to dst's connection under this name while it is merged, so each table is
// one INSERT ... SELECT. The statements are prepared per merge: they name the attached schema,
// which exists only then.
constexpr std::string_view kAttach = "ATTACH DATABASE ?1 AS merge_src";
constexpr std::string_view kDetach = "DETACH DATABASE merge_src";

constexpr std::string_view kMergeDevices = R"sql(
INSERT INTO main.devices (device_key, fingerprint_json, first_seen)
SELECT s.device_key, s.fingerprint_json, s.first_seen FROM merge_src.devices s
WHERE NOT EXISTS (SELECT 1 FROM main.devices d WHERE d.device_key = s.device_key)
ORDER BY s.id
RETURNING id)sql";

constexpr std::string_view kConflictingArch = R"sql(
SELECT s.hash, length(m.canonical_json), length(s.canonical_json)
FROM merge_src.archs s JOIN main.archs m ON m.hash = s.hash
WHERE m.canonical_json != s.canonical_json
ORDER BY s.hash LIMIT 1)sql";

constexpr std::string_view kMergeArchs = R"sql(
INSERT INTO main.archs (hash, canonical_json, name, first_seen)
SELECT s.hash, s.canonical_json, s.name, s.first_seen FROM merge_src.archs s
WHERE NOT EXISTS (SELECT 1 FROM main.archs m WHERE m.hash = s.hash)
ORDER BY s.first_seen, s.hash
RETURNING hash)sql";

constexpr std::string_view kMergeRuns = R"sql(
INSERT INTO main.runs (kind, device_id, config_json, status, started_at, finished_at, code_version,
                       software_json, drift_rel, drifted, pid, host, process_start, uid)
SELECT r.kind, (SELECT d.id FROM main.devices d WHERE d.device_key = sd.device_key), r.config_json,
       r.status, r.started_at, r.finished_at, r.code_version, r.software_json, r.drift_rel, r.drifted,
       r.pid, r.host, r.process_start, r.uid
FROM merge_src.runs r JOIN merge_src.devices sd ON sd.id = r.device_id
WHERE NOT EXISTS (SELECT 1 FROM main.runs m WHERE m.uid = r.uid)
ORDER BY r.id
RETURNING id)sql";

// A run that finished in src after dst took a copy of it (a shard merged while it ran, or resumed
// and completed elsewhere).
constexpr std::string_view kMergeRunStatus = R"sql(
UPDATE main.runs SET status = s.status, finished_at = s.finished_at, drift_rel = s.drift_rel,
                     drifted = s.drifted
FROM merge_src.runs s
WHERE main.runs.uid = s.uid AND s.status = 'finished' AND main.runs.status != 'finished')sql";

// What names a measurement within its run in every file (its id does not): {same} below.
constexpr std::string_view kSameMeasurement =
    "x.run_id = mr.id AND x.key = sm.key AND x.created_at = sm.created_at AND x.threads = "
    "sm.threads "
    "AND x.batch = sm.batch AND x.dtype = sm.dtype";

constexpr std::string_view kMergeMeasurements =
    "INSERT INTO main.measurements (run_id, device_id, kind, key, params_json, shapes, threads, "
    "dtype, "
    "batch, impl, flops, bytes, min_ms, p10_ms, median_ms, p90_ms, p99_ms, mean_ms, stddev_ms, "
    "mad_ms, "
    "cv, ci_low_ms, ci_high_ms, n, inner_repeats, samples, repro, created_at, flags, arch_hash) "
    "SELECT mr.id, (SELECT d.id FROM main.devices d WHERE d.device_key = sd.device_key), sm.kind, "
    "sm.key, sm.params_json, sm.shapes, sm.threads, sm.dtype, sm.batch, sm.impl, sm.flops, "
    "sm.bytes, "
    "sm.min_ms, sm.p10_ms, sm.median_ms, sm.p90_ms, sm.p99_ms, sm.mean_ms, sm.stddev_ms, "
    "sm.mad_ms, "
    "sm.cv, sm.ci_low_ms, sm.ci_high_ms, sm.n, sm.inner_repeats, sm.samples, sm.repro, "
    "sm.created_at, "
    "sm.flags, sm.arch_hash "
    "FROM merge_src.measurements sm "
    "JOIN merge_src.runs sr ON sr.id = sm.run_id JOIN main.runs mr ON mr.uid = sr.uid "
    "JOIN merge_src.devices sd ON sd.id = sm.device_id "
    "WHERE NOT EXISTS (SELECT 1 FROM main.measurements x WHERE {same}) "
    "ORDER BY sm.id "
    "RETURNING id";

// src measurement id -> dst measurement id, for the measurements that have layer times.
constexpr std::string_view kCreateMeasurementMap =
    "CREATE TEMP TABLE merge_measurement_ids (src_id INTEGER PRIMARY KEY, dst_id INTEGER NOT NULL)";
constexpr std::string_view kDropMeasurementMap = "DROP TABLE IF EXISTS temp.merge_measurement_ids";
constexpr std::string_view kFillMeasurementMap =
    "INSERT INTO temp.merge_measurement_ids (src_id, dst_id) "
    "SELECT sm.id, (SELECT x.id FROM main.measurements x WHERE {same} ORDER BY x.id LIMIT 1) "
    "FROM merge_src.measurements sm "
    "JOIN merge_src.runs sr ON sr.id = sm.run_id JOIN main.runs mr ON mr.uid = sr.uid "
    "WHERE EXISTS (SELECT 1 FROM merge_src.layer_times lt WHERE lt.measurement_id = sm.id)";

constexpr std::string_view kMergeLayerTimes = R"sql(
INSERT INTO main.layer_times (measurement_id, idx, name, kind, key, flops, bytes, params, min_ms,
                              p10_ms, median_ms, p90_ms, mean_ms, cv, share, n, inner_repeats, samples)
SELECT map.dst_id, lt.idx, lt.name, lt.kind, lt.key, lt.flops, lt.bytes, lt.params, lt.min_ms,
       lt.p10_ms, lt.median_ms, lt.p90_ms, lt.mean_ms, lt.cv, lt.share, lt.n, lt.inner_repeats,
       lt.samples
FROM merge_src.layer_times lt JOIN temp.merge_measurement_ids map ON map.src_id = lt.measurement_id
WHERE NOT EXISTS (SELECT 1 FROM main.layer_times y WHERE y.measurement_id = map.dst_id AND y.idx = lt.idx)
ORDER BY lt.measurement_id, lt.idx
RETURNING idx)sql";

constexpr std::string_view kMergeGenerations = R"sql(
INSERT INTO main.search_generations (run_id, generation, created_at, population_json, hypervolume,
                                     reference_json, objectives_json, evaluations, cache_hits,
                                     measured_checks, pred_n, pred_mape, pred_within5, pred_within10,
                                     pred_kendall_tau)
SELECT mr.id, g.generation, g.created_at, g.population_json, g.hypervolume, g.reference_json,
       g.objectives_json, g.evaluations, g.cache_hits, g.measured_checks, g.pred_n, g.pred_mape,
       g.pred_within5, g.pred_within10, g.pred_kendall_tau
FROM merge_src.search_generations g
JOIN merge_src.runs sr ON sr.id = g.run_id JOIN main.runs mr ON mr.uid = sr.uid
WHERE NOT EXISTS (SELECT 1 FROM main.search_generations y
                  WHERE y.run_id = mr.id AND y.generation = g.generation)
ORDER BY g.run_id, g.generation
RETURNING generation)sql";

constexpr std::string_view kMergeCandidates = R"sql(
INSERT INTO main.search_candidates (run_id, generation, idx, arch_hash, origin, latency_ms,
                                    latency_source, predicted_ms, quality, quality_source, params,
                                    flops, violation, rank, crowding, in_population, parents)
SELECT mr.id, c.generation, c.idx, c.arch_hash, c.origin, c.latency_ms, c.latency_source,
       c.predicted_ms, c.quality, c.quality_source, c.params, c.flops, c.violation, c.rank,
       c.crowding, c.in_population, c.parents
FROM merge_src.search_candidates c
JOIN merge_src.runs sr ON sr.id = c.run_id JOIN main.runs mr ON mr.uid = sr.uid
WHERE NOT EXISTS (SELECT 1 FROM main.search_candidates y
                  WHERE y.run_id = mr.id AND y.generation = c.generation AND y.idx = c.idx)
ORDER BY c.run_id, c.generation, c.idx
RETURNING idx)sql";

constexpr std::string_view kMergeFront = R"sql(
INSERT INTO main.search_front (run_id, idx, arch_hash, latency_ms, latency_source, predicted_ms,
                               quality, quality_source, params, flops)
SELECT mr.id, f.idx, f.arch_hash, f.latency_ms, f.latency_source, f.predicted_ms, f.quality,
       f.quality_source, f.params, f.flops
FROM merge_src.search_front f
JOIN merge_src.runs sr ON sr.id = f.run_id JOIN main.runs mr ON mr.uid = sr.uid
WHERE NOT EXISTS (SELECT 1 FROM main.search_front y WHERE y.run_id = mr.id AND y.idx = f.idx)
ORDER BY f.run_id, f.idx
RETURNING idx)sql";

constexpr std::string_view kMergeQuality = R"sql(
INSERT INTO main.quality_scores (arch_hash, method, config, value, created_at)
SELECT q.arch_hash, q.method, q.config, q.value, q.created_at FROM merge_src.quality_scores q
WHERE NOT EXISTS (SELECT 1 FROM main.quality_scores y
                  WHERE y.arch_hash = q.arch_hash AND y.method = q.method AND y.config = q.config)
ORDER BY q.arch_hash, q.method, q.config
RETURNING 1)sql";

constexpr std::string_view kMergeClaimResults = R"sql(
INSERT INTO main.claim_results (run_id, claim_id, kind, statement, models_json, setups_json, metric,
                                unit, device, device_class, claimed, measured, ci_low, ci_high,
                                ci_level, quotient, rounds, tolerance, verdict, reason)
SELECT mr.id, c.claim_id, c.kind, c.statement, c.models_json, c.setups_json, c.metric, c.unit,
       c.device, c.device_class, c.claimed, c.measured, c.ci_low, c.ci_high, c.ci_level,
       c.quotient, c.rounds, c.tolerance, c.verdict, c.reason
FROM merge_src.claim_results c
JOIN merge_src.runs sr ON sr.id = c.run_id JOIN main.runs mr ON mr.uid = sr.uid
WHERE NOT EXISTS (SELECT 1 FROM main.claim_results y
                  WHERE y.run_id = mr.id AND y.claim_id = c.claim_id)
ORDER BY c.rowid
RETURNING 1)sql";

constexpr std::string_view kMergePredictorPoints = R"sql(
INSERT INTO main.predictor_points (run_id, arch_hash, role, predicted_ms, layer_sum_ms, n_layers,
                                   measured_ms, contended)
SELECT mr.id, p.arch_hash, p.role, p.predicted_ms, p.layer_sum_ms, p.n_layers, p.measured_ms,
       p.contended
FROM merge_src.predictor_points p
JOIN merge_src.runs sr ON sr.id = p.run_id JOIN main.runs mr ON mr.uid = sr.uid
WHERE NOT EXISTS (SELECT 1 FROM main.predictor_points y
                  WHERE y.run_id = mr.id AND y.arch_hash = p.arch_hash)
ORDER BY p.rowid
RETURNING 1)sql";

// Runs an INSERT ... RETURNING to completion; the number of rows it wrote.
std::int64_t rows_written(const Database& db, std::string_view sql) {
  Statement q = db.prepare(sql);
  ScopedReset reset(q);
  std::int64_t n = 0;
  while (q.step()) ++n;
  return n;
}

// A path as an SQLite URI that opens it read-only: every byte outside the unreserved set
// percent-encoded, so '?', '#' and '%' in a file name stay part of the name.
std::string read_only_uri(const std::string& path) {
  const std::string absolute = std::filesystem::absolute(path).string();
  std::string uri = "file:";
  for (const char c : absolute) {
    const auto u = static_cast<unsigned char>(c);
    const bool plain = (u >= 'a' && u <= 'z') || (u >= 'A' && u <= 'Z') || (u >= '0' && u <= '9') ||
                       c == '/' || c == '-' || c == '_' || c == '.' || c == '~';
    uri += plain ? std::string(1, c) : fmt::format("%{:02X}", u);
  }
  return uri + "?mode=ro";
}

bool same_file(const std::string& a, const std::string& b) {
  std::error_code ec;
  if (std::filesystem::equivalent(a, b, ec)) return true;
  return std::filesystem::weakly_canonical(a, ec) == std::filesystem::weakly_canonical(b, ec) &&
         !ec;
}

// Attached for the life of this object; detached after the merge's transaction has ended (declared
// before it), since SQLite detaches nothing inside a transaction.
class Attached {
 public:
  Attached(Database& db, const std::string& uri) : db_(db) {
    Statement attach = db.prepare(kAttach);
    attach.bind(1, uri).step_and_reset();
  }
  ~Attached() {
    try {
      db_.exec(kDropMeasurementMap);
      db_.exec(kDetach);
    } catch (const Error&) {
      // Detaching fails only while a statement still runs on the connection; the connection keeps
      // the source attached (read-only) until it closes, which harms nothing.
    }
  }
  Attached(const Attached&) = delete;
  Attached& operator=(const Attached&) = delete;

 private:
  Database& db_;
};

}  // namespace

MergeStats merge_store(Store& dst, const std::string& src_path) {
  if (same_file(dst.path(), src_path)) {
    throw InvalidArgument(fmt::format(
        "merge: {} is the store being merged into; a store cannot be merged into itself",
        src_path));
  }
  // The checks of a read-only open: exists, is an hwnas database, has this build's schema.
  Store::open(src_path, {.mode = sqlite::OpenMode::ReadOnly});

  Database& db = dst.state_->db;
  const Attached attached(db, read_only_uri(src_path));
  MergeStats added;
  Transaction tx(db);
  added.devices = rows_written(db, kMergeDevices);
  {
    Statement conflict = db.prepare(kConflictingArch);
    if (conflict.step()) {
      throw IoError(fmt::format(
          "merge: arch hash {} has another canonical JSON in {} ({} bytes) than in {} ({} bytes); "
          "a hash collision or a changed canonical form: nothing merged",
          conflict.column_text(0), src_path, conflict.column_int64(2), dst.path(),
          conflict.column_int64(1)));
    }
  }
  added.archs = rows_written(db, kMergeArchs);
  added.runs = rows_written(db, kMergeRuns);
  db.prepare(kMergeRunStatus).step_and_reset();
  added.measurements =
      rows_written(db, fmt::format(kMergeMeasurements, fmt::arg("same", kSameMeasurement)));
  db.exec(kCreateMeasurementMap);
  db.prepare(fmt::format(kFillMeasurementMap, fmt::arg("same", kSameMeasurement))).step_and_reset();
  added.layer_times = rows_written(db, kMergeLayerTimes);
  added.generations = rows_written(db, kMergeGenerations);
  added.candidates = rows_written(db, kMergeCandidates);
  added.front_rows = rows_written(db, kMergeFront);
  added.quality_scores = rows_written(db, kMergeQuality);
  added.claim_results = rows_written(db, kMergeClaimResults);
  added.predictor_points = rows_written(db, kMergePredictorPoints);
  tx.commit();
  return added;
}

}  // namespace hwnas
