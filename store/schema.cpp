#include "store/schema.hpp"

#include <array>

namespace hwnas {

namespace {

// Version 1. STRICT tables: SQLite refuses a value of the wrong type instead of storing it anyway.
// Times are ISO 8601 UTC text with milliseconds ("2024-05-01T12:34:56.789Z"), which sort as text.
// JSON columns are checked with json_valid, so a report can always parse what it reads.
constexpr std::string_view kVersion1[] = {
    R"sql(
CREATE TABLE devices (
  id               INTEGER PRIMARY KEY,
  device_key       TEXT NOT NULL UNIQUE,
  fingerprint_json TEXT NOT NULL CONSTRAINT fingerprint_json_is_json CHECK (json_valid(fingerprint_json)),
  first_seen       TEXT NOT NULL
) STRICT)sql",

    // pid, host and process_start name the process that began the run (store/process_identity.hpp):
    // a run still 'running' whose process is gone was killed, and is marked 'unfinished'.
    // drift_rel and drifted are both NULL when no drift check ran.
    R"sql(
CREATE TABLE runs (
  id            INTEGER PRIMARY KEY,
  kind          TEXT NOT NULL,
  device_id     INTEGER NOT NULL REFERENCES devices(id),
  config_json   TEXT NOT NULL CONSTRAINT config_json_is_json CHECK (json_valid(config_json)),
  status        TEXT NOT NULL
                CHECK (status IN ('running', 'finished', 'failed', 'unfinished')),
  started_at    TEXT NOT NULL,
  finished_at   TEXT,
  code_version  TEXT NOT NULL,
  software_json TEXT NOT NULL CONSTRAINT software_json_is_json CHECK (json_valid(software_json)),
  drift_rel     REAL,
  drifted       INTEGER CHECK (drifted IN (0, 1)),
  pid           INTEGER NOT NULL,
  host          TEXT NOT NULL,
  process_start TEXT NOT NULL,
  CONSTRAINT drift_all_or_nothing CHECK ((drift_rel IS NULL) = (drifted IS NULL))
) STRICT)sql",

    // Opening a store checks the runs still 'running'; this keeps that a lookup, not a scan.
    "CREATE INDEX runs_running ON runs(id) WHERE status = 'running'",

    // One measured point. Statistics that can be undefined (stddev, MAD, CV, CI of a single sample)
    // are NULL; samples is the raw per-sample times as little-endian float64 (8 * n bytes).
    R"sql(
CREATE TABLE measurements (
  id            INTEGER PRIMARY KEY,
  run_id        INTEGER NOT NULL REFERENCES runs(id),
  device_id     INTEGER NOT NULL REFERENCES devices(id),
  kind          TEXT NOT NULL CHECK (kind IN ('op', 'arch')),
  key           TEXT NOT NULL,
  params_json   TEXT NOT NULL CONSTRAINT params_json_is_json CHECK (json_valid(params_json)),
  shapes        TEXT NOT NULL,
  threads       INTEGER NOT NULL,
  dtype         TEXT NOT NULL,
  batch         INTEGER NOT NULL,
  impl          TEXT NOT NULL,
  flops         REAL NOT NULL,
  bytes         REAL NOT NULL,
  min_ms        REAL NOT NULL,
  p10_ms        REAL NOT NULL,
  median_ms     REAL NOT NULL,
  p90_ms        REAL NOT NULL,
  p99_ms        REAL NOT NULL,
  mean_ms       REAL NOT NULL,
  stddev_ms     REAL,
  mad_ms        REAL,
  cv            REAL,
  ci_low_ms     REAL,
  ci_high_ms    REAL,
  n             INTEGER NOT NULL,
  inner_repeats INTEGER NOT NULL,
  samples       BLOB NOT NULL,
  repro         TEXT NOT NULL,
  created_at    TEXT NOT NULL,
  flags         TEXT NOT NULL
) STRICT)sql",

    "CREATE INDEX measurements_by_run ON measurements(run_id)",
    // The cache lookup of a search (key x device x threads x dtype x batch, newest first) and the
    // resume check of a sweep.
    "CREATE INDEX measurements_by_point ON measurements(key, device_id, threads, dtype, batch, id)",
    // A pragma takes no bound parameter; this literal is kApplicationId (store_test checks they agree).
    "PRAGMA application_id = 1752657505",
};

// Version 2: architectures and per-layer times (`hwnas bench`). An Arch measurement points at its
// architecture, whose canonical JSON is kept so the network can be rebuilt from the store alone.
constexpr std::string_view kVersion2[] = {
    R"sql(
CREATE TABLE archs (
  hash           TEXT NOT NULL PRIMARY KEY,
  canonical_json TEXT NOT NULL CONSTRAINT canonical_json_is_json CHECK (json_valid(canonical_json)),
  name           TEXT NOT NULL,
  first_seen     TEXT NOT NULL
) STRICT)sql",

    // NULL for op measurements. A column added by ALTER TABLE may reference another table only with
    // a NULL default, which is what it has.
    "ALTER TABLE measurements ADD COLUMN arch_hash TEXT REFERENCES archs(hash)",
    "CREATE INDEX measurements_by_arch ON measurements(arch_hash) WHERE arch_hash IS NOT NULL",

    // One row per layer of an Arch measurement; samples as in measurements. cv is NULL where
    // undefined (one sample).
    R"sql(
CREATE TABLE layer_times (
  measurement_id INTEGER NOT NULL REFERENCES measurements(id),
  idx            INTEGER NOT NULL CHECK (idx >= 0),
  name           TEXT NOT NULL,
  kind           TEXT NOT NULL,
  key            TEXT NOT NULL,
  flops          REAL NOT NULL,
  bytes          REAL NOT NULL,
  params         REAL NOT NULL,
  min_ms         REAL NOT NULL,
  p10_ms         REAL NOT NULL,
  median_ms      REAL NOT NULL,
  p90_ms         REAL NOT NULL,
  mean_ms        REAL NOT NULL,
  cv             REAL,
  share          REAL NOT NULL CHECK (share >= 0 AND share <= 1),
  n              INTEGER NOT NULL,
  inner_repeats  INTEGER NOT NULL,
  samples        BLOB NOT NULL,
  PRIMARY KEY (measurement_id, idx)
) STRICT)sql",
};

// Version 3: the run uid (merging stores) and the search tables (`hwnas search`).
constexpr std::string_view kVersion3[] = {
    // A run's identity across files: `hwnas merge` matches runs by it, and a resumed run keeps it.
    // ALTER TABLE cannot add a NOT NULL column without a default, so the store, not the schema,
    // promises a value (begin_run always sets one); the CHECK holds every value that is set.
    "ALTER TABLE runs ADD COLUMN uid TEXT CONSTRAINT uid_is_128_bit_hex "
    "CHECK (length(uid) = 32 AND uid NOT GLOB '*[^0-9a-f]*')",
    "UPDATE runs SET uid = lower(hex(randomblob(16)))",
    "CREATE UNIQUE INDEX runs_by_uid ON runs(uid)",

    // One row per completed generation of a search, written with its candidates in one
    // transaction, so the last row is where a resumed search continues. population_json holds the
    // arch hashes that survived selection, in order; reference_json the hypervolume's reference
    // point (one number per objective, in the order of objectives_json). The pred_* columns are the
    // latency predictor's live error on the candidates also measured end to end: NULL when none
    // was.
    R"sql(
CREATE TABLE search_generations (
  run_id           INTEGER NOT NULL REFERENCES runs(id),
  generation       INTEGER NOT NULL CHECK (generation >= 0),
  created_at       TEXT NOT NULL,
  population_json  TEXT NOT NULL CONSTRAINT population_json_is_json CHECK (json_valid(population_json)),
  hypervolume      REAL NOT NULL,
  reference_json   TEXT NOT NULL CONSTRAINT reference_json_is_json CHECK (json_valid(reference_json)),
  objectives_json  TEXT NOT NULL CONSTRAINT objectives_json_is_json CHECK (json_valid(objectives_json)),
  evaluations      INTEGER NOT NULL CHECK (evaluations >= 0),
  cache_hits       INTEGER NOT NULL CHECK (cache_hits >= 0),
  measured_checks  INTEGER NOT NULL CHECK (measured_checks >= 0),
  pred_n           INTEGER NOT NULL CHECK (pred_n >= 0),
  pred_mape        REAL,
  pred_within5     REAL,
  pred_within10    REAL,
  pred_kendall_tau REAL,
  PRIMARY KEY (run_id, generation)
) STRICT)sql",

    // Every candidate evaluated in a generation. crowding may be +inf (a boundary point of its
    // front), which a REAL column stores as it is. violation is the total amount by which the
    // constraints are exceeded (0 = feasible).
    R"sql(
CREATE TABLE search_candidates (
  run_id         INTEGER NOT NULL,
  generation     INTEGER NOT NULL,
  idx            INTEGER NOT NULL CHECK (idx >= 0),
  arch_hash      TEXT NOT NULL REFERENCES archs(hash),
  origin         TEXT NOT NULL CHECK (origin IN ('initial', 'offspring')),
  latency_ms     REAL NOT NULL,
  latency_source TEXT NOT NULL CHECK (latency_source IN ('measured', 'lut')),
  predicted_ms   REAL,
  quality        REAL NOT NULL,
  quality_source TEXT NOT NULL,
  params         REAL NOT NULL,
  flops          REAL NOT NULL,
  violation      REAL NOT NULL CHECK (violation >= 0),
  rank           INTEGER NOT NULL CHECK (rank >= 0),
  crowding       REAL NOT NULL,
  in_population  INTEGER NOT NULL CHECK (in_population IN (0, 1)),
  PRIMARY KEY (run_id, generation, idx),
  FOREIGN KEY (run_id, generation) REFERENCES search_generations(run_id, generation)
) STRICT)sql",

    // The run's final Pareto front (replaced as a whole when a resumed search ends again).
    R"sql(
CREATE TABLE search_front (
  run_id         INTEGER NOT NULL REFERENCES runs(id),
  idx            INTEGER NOT NULL CHECK (idx >= 0),
  arch_hash      TEXT NOT NULL REFERENCES archs(hash),
  latency_ms     REAL NOT NULL,
  latency_source TEXT NOT NULL CHECK (latency_source IN ('measured', 'lut')),
  predicted_ms   REAL,
  quality        REAL NOT NULL,
  quality_source TEXT NOT NULL,
  params         REAL NOT NULL,
  flops          REAL NOT NULL,
  PRIMARY KEY (run_id, idx)
) STRICT)sql",

    // The quality cache: an architecture is scored once per method and configuration (resolution,
    // batch, seed, data), whichever run asked first.
    R"sql(
CREATE TABLE quality_scores (
  arch_hash  TEXT NOT NULL REFERENCES archs(hash),
  method     TEXT NOT NULL,
  config     TEXT NOT NULL,
  value      REAL NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (arch_hash, method, config)
) STRICT)sql",
};

// Version 4: `hwnas reproduce`. One row per claim of the ledger (and per ratio derived from two
// of its absolute claims) and run: what was claimed, what this device measured (NULL when it was
// not measured), their quotient and the verdict. The device and its fingerprint are the run's.
constexpr std::string_view kVersion4[] = {
    R"sql(
CREATE TABLE claim_results (
  run_id       INTEGER NOT NULL REFERENCES runs(id),
  claim_id     TEXT NOT NULL CHECK (claim_id <> ''),
  kind         TEXT NOT NULL CHECK (kind IN ('ratio', 'absolute')),
  statement    TEXT NOT NULL,
  models_json  TEXT NOT NULL CONSTRAINT models_json_is_json CHECK (json_valid(models_json)),
  setups_json  TEXT NOT NULL CONSTRAINT setups_json_is_json CHECK (json_valid(setups_json)),
  metric       TEXT NOT NULL,
  unit         TEXT NOT NULL,
  device       TEXT NOT NULL,
  device_class TEXT NOT NULL,
  claimed      REAL NOT NULL,
  measured     REAL,
  ci_low       REAL,
  ci_high      REAL,
  ci_level     REAL,
  quotient     REAL,
  rounds       INTEGER NOT NULL CHECK (rounds >= 0),
  tolerance    REAL NOT NULL CHECK (tolerance >= 0),
  verdict      TEXT NOT NULL
               CHECK (verdict IN ('holds', 'does_not_hold', 'other_device_class', 'not_measurable')),
  reason       TEXT NOT NULL,
  PRIMARY KEY (run_id, claim_id)
) STRICT)sql",
};

// Version 5: `hwnas lut`'s predictions. One row per subnet the predictor benchmark drew and
// measured (the first time a run drew it): its role (fitted on, or held out from, the calibration),
// the calibrated prediction as it stood before the measurement, the uncalibrated layer sum and the
// number of layers in it, the end-to-end median, and whether that measurement was flagged
// contended (bench/contention.hpp: another process had the CPUs, so it judges nothing).
constexpr std::string_view kVersion5[] = {
    R"sql(
CREATE TABLE predictor_points (
  run_id       INTEGER NOT NULL REFERENCES runs(id),
  arch_hash    TEXT NOT NULL REFERENCES archs(hash),
  role         TEXT NOT NULL CHECK (role IN ('calibrate', 'held_out')),
  predicted_ms REAL NOT NULL CHECK (predicted_ms > 0),
  layer_sum_ms REAL NOT NULL CHECK (layer_sum_ms > 0),
  n_layers     REAL NOT NULL CHECK (n_layers >= 1),
  measured_ms  REAL NOT NULL CHECK (measured_ms > 0),
  contended    INTEGER NOT NULL CHECK (contended IN (0, 1)),
  PRIMARY KEY (run_id, arch_hash)
) STRICT)sql",
};

// Version 6: each search candidate's parents (its lineage), so a search can be traced back: which
// parents a front member came from, whether crossover or mutation produced the survivors. Empty
// for the initial population; one arch hash for a mutation, two (comma-separated) for a crossover
// (then mutated). Rows of older files read as empty.
constexpr std::string_view kVersion6[] = {
    R"sql(
ALTER TABLE search_candidates ADD COLUMN parents TEXT NOT NULL DEFAULT '')sql",
};

constexpr std::array kMigrations = {
    Migration{kVersion1}, Migration{kVersion2}, Migration{kVersion3},
    Migration{kVersion4}, Migration{kVersion5}, Migration{kVersion6},
};

}  // namespace

std::span<const Migration> schema_migrations() { return kMigrations; }

int latest_schema_version() { return static_cast<int>(kMigrations.size()); }

}  // namespace hwnas
