// Store: the one SQLite file (default hwnas.db) that every measurement, run and device goes into.
//
//   Store store = Store::open("hwnas.db");
//   const std::int64_t device = store.upsert_device(fingerprint.key, fingerprint.json);
//   const std::int64_t run = store.begin_run({.kind = "sweep", .device_id = device, ...});
//   store.add_measurements(rows);                  // one transaction
//   store.finish_run(run, RunStatus::Finished, RunDrift{.rel = 0.004, .drifted = false});
//
// The rows are plain structs of our own; the store knows nothing of bench/ (apps/ converts a
// measurement into a MeasurementRow). Statements are prepared once in open() and reused (bind / step /
// reset). Every write is one transaction, BEGIN IMMEDIATE with a busy timeout and a bounded retry, so
// several processes can write to one file at once. A run left 'running' by a process that no longer
// exists (killed, crashed) is marked 'unfinished' when a store is opened read-write.
//
// A Store is one connection: use it from one thread, and open a new one after fork().
#pragma once

#include <chrono>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/schema.hpp"
#include "store/sqlite.hpp"

namespace hwnas {

// A REAL column's NULL, in the rows that hold one (NaN binds as NULL and NULL reads as NaN).
inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

enum class RunStatus { Running, Finished, Failed, Unfinished };
std::string_view to_string(RunStatus status);  // "running", "finished", "failed", "unfinished"

enum class MeasurementKind { Op, Arch };
std::string_view to_string(MeasurementKind kind);  // "op", "arch"

struct DeviceRow {
  std::int64_t id = 0;
  std::string device_key;
  std::string fingerprint_json;
  std::string first_seen;  // ISO 8601 UTC
  friend bool operator==(const DeviceRow&, const DeviceRow&) = default;
};

// The reference kernel timed before and after a run: its relative change, and whether that exceeded
// the run's threshold (decided by bench/, recorded here).
struct RunDrift {
  double rel = 0.0;
  bool drifted = false;
  friend bool operator==(const RunDrift&, const RunDrift&) = default;
};

struct RunRow {
  std::int64_t id = 0;  // set by the store
  // Set by the store: 32 random hex digits naming the run in every file it is merged into (`hwnas
  // merge` matches runs by it; ids differ between files); kept when the run is resumed.
  std::string uid;
  std::string kind;     // "sweep", "bench", "search", ...
  std::int64_t device_id = 0;
  std::string config_json = "{}";  // the resolved configuration
  RunStatus status = RunStatus::Running;  // begin_run always writes Running
  std::string started_at;                 // ISO 8601 UTC; empty = now
  std::optional<std::string> finished_at;  // set by finish_run
  std::string code_version;                // git commit of the build
  std::string software_json = "{}";        // oneDNN version, compiler, build type and flags, threads
  std::optional<RunDrift> drift;           // set by finish_run
  std::int64_t pid = 0;                    // set by the store: the process that began the run
  std::string host;                        // set by the store
  friend bool operator==(const RunRow&, const RunRow&) = default;
};

// One measured point. Times are milliseconds. A statistic that is undefined (the stddev, CV or
// confidence interval of one sample) is NaN, stored as NULL.
struct MeasurementRow {
  std::int64_t id = 0;         // set by the store
  std::int64_t run_id = 0;     // a run that is still running
  std::int64_t device_id = 0;  // set by the store: the device of the run
  MeasurementKind kind = MeasurementKind::Op;
  std::string key;              // canonical key, e.g. "linear:m=3136,k=96,n=384,bias=1,act=none"
  std::string params_json = "{}";
  std::string shapes;           // e.g. "src=[3136,96] dst=[3136,384]"
  std::int64_t threads = 1;
  std::string dtype = "f32";
  std::int64_t batch = 1;
  std::string impl;             // the plan's impl_name()
  double flops = 0.0;           // of one execution
  double bytes = 0.0;           // minimum traffic of one execution
  double min_ms = 0.0, p10_ms = 0.0, median_ms = 0.0, p90_ms = 0.0, p99_ms = 0.0, mean_ms = 0.0;
  double stddev_ms = 0.0, mad_ms = 0.0, cv = 0.0, ci_low_ms = 0.0, ci_high_ms = 0.0;  // NaN = undefined
  std::int64_t n = 0;              // number of samples; samples_ms.size() == n
  std::int64_t inner_repeats = 1;  // executions averaged into each sample
  std::vector<double> samples_ms;  // raw, in the order taken; stored as little-endian float64
  std::string repro;               // one command line that re-measures exactly this point
  std::string created_at;          // ISO 8601 UTC; empty = now
  std::string flags;               // comma-separated, e.g. "high_cv,remeasured"
  std::string arch_hash;           // kind Arch: the archs row measured (required); kind Op: empty
  friend bool operator==(const MeasurementRow&, const MeasurementRow&) = default;
};

// One architecture (supernet/arch.hpp), keyed by its hash: what an Arch measurement's arch_hash
// points at, so the network can be rebuilt from the store alone.
struct ArchRow {
  std::string hash;            // arch_hash(arch): 16 hex digits
  std::string canonical_json;  // to_json(arch), which the hash is of
  std::string name;        // the name it was first stored under ("swin_t"); not part of the hash
  std::string first_seen;  // ISO 8601 UTC; set by the store
  friend bool operator==(const ArchRow&, const ArchRow&) = default;
};

// One layer's time inside an Arch measurement (`hwnas bench --layers`): the layer run alone on its
// input, under the same timing protocol. Times are milliseconds; cv NaN = undefined (one sample).
struct LayerTimeRow {
  std::int64_t measurement_id = 0;  // the Arch measurement it breaks down (of a running run)
  std::int64_t idx = 0;             // position in execution order, 0-based
  std::string name;                 // "stages.2.blocks.3.0.mixer"
  std::string kind;                 // "stem", "mixer", "mlp", "norm", ...
  std::string key;                  // the op's canonical key
  double flops = 0.0, bytes = 0.0, params = 0.0;  // of one execution
  double min_ms = 0.0, p10_ms = 0.0, median_ms = 0.0, p90_ms = 0.0, mean_ms = 0.0, cv = 0.0;
  double share = 0.0;  // median_ms / the sum of the layers' medians, in [0, 1]
  std::int64_t n = 0;  // samples_ms.size() == n
  std::int64_t inner_repeats = 1;
  std::vector<double> samples_ms;
  friend bool operator==(const LayerTimeRow&, const LayerTimeRow&) = default;
};

// Throws InvalidArgument naming the field, its value, the rule and the layer, e.g.
// "store: layer time share=1.5 must be in [0, 1] [stages.0.blocks.0.0.mixer]".
void check(const LayerTimeRow& row);

// Throws InvalidArgument naming the field, its value, the rule and the key, e.g.
// "store: measurement median_ms=nan must be finite and >= 0 [linear:m=1,...]".
void check(const MeasurementRow& row);

// One completed generation of a search (`hwnas search`), written with its candidates in one
// transaction: the newest row is where a resumed search continues.
struct GenerationRow {
  std::int64_t run_id = 0;              // a running run of kind "search"
  std::int64_t generation = 0;          // 0-based
  std::string created_at;               // ISO 8601 UTC; empty = now
  std::vector<std::string> population;  // arch hashes that survived selection, in order
  double hypervolume = 0.0;             // of this generation's front, against `reference`
  std::vector<double> reference;        // the reference point, one value per objective
  std::vector<std::string> objectives;  // objective names, e.g. {"latency_ms", "neg_quality"}
  std::int64_t evaluations = 0;         // candidates evaluated this generation, cache hits included
  std::int64_t cache_hits = 0;          // of those, answered from the store
  std::int64_t measured_checks = 0;     // predicted candidates also measured end to end
  // The latency predictor's live error on those checks (search/predictor_error.hpp); NaN = none.
  std::int64_t pred_n = 0;
  double pred_mape = kNoValue, pred_within5 = kNoValue, pred_within10 = kNoValue,
         pred_kendall_tau = kNoValue;
};

// One candidate evaluated in a generation, with its objectives and its NSGA-II standing.
struct CandidateRow {
  std::int64_t run_id = 0;
  std::int64_t generation = 0;
  std::int64_t idx = 0;                     // position within the generation, 0-based
  std::string arch_hash;                    // a stored arch (upsert_arch first)
  std::string origin = "offspring";         // "initial" or "offspring"
  double latency_ms = 0.0;                  // what the search ranked with
  std::string latency_source = "measured";  // "measured" or "lut"
  double predicted_ms = kNoValue;           // the lookup table's prediction; NaN = none
  double quality = 0.0;                     // higher is better
  std::string quality_source;               // "naswot", ...
  double params = 0.0, flops = 0.0;
  double violation = 0.0;      // total constraint excess; 0 = feasible
  std::int64_t rank = 0;       // non-dominated front, 0 = best
  double crowding = 0.0;       // +inf at a front's boundary
  bool in_population = false;  // survived this generation's selection
  // The parents' arch hashes, comma-separated: none for "initial", one (mutation) or two
  // (crossover, then mutation) for "offspring" (empty in rows stored before schema version 6).
  std::string parents;
};

// One architecture of a search's final Pareto front.
struct FrontRow {
  std::int64_t run_id = 0;
  std::int64_t idx = 0;
  std::string arch_hash;
  double latency_ms = 0.0;
  std::string latency_source = "measured";
  double predicted_ms = kNoValue;
  double quality = 0.0;
  std::string quality_source;
  double params = 0.0, flops = 0.0;
};

// The quality cache: an architecture is scored once per method and configuration.
struct QualityRow {
  std::string arch_hash;
  std::string method;  // "naswot"
  std::string config;  // e.g. "res=224,batch=32,seed=1,data=fashion-mnist:train:0"
  double value = 0.0;
  std::string created_at;  // ISO 8601 UTC; set by the store
  friend bool operator==(const QualityRow&, const QualityRow&) = default;
};

// Throw InvalidArgument naming the field, its value, the rule and the row, e.g.
// "store: candidate crowding=nan must be >= 0 (+inf at a front's boundary) [generation 3 idx 7]".
void check(const GenerationRow& row);
void check(const CandidateRow& row);
void check(const FrontRow& row);
void check(const QualityRow& row);

// One claim's result in a `hwnas reproduce` run (bench/claims.hpp says how claims are planned and
// judged). A claim that was not measured has measured, ci_*, quotient NaN (NULL) and rounds 0.
struct ClaimResultRow {
  std::int64_t run_id = 0;  // a running run
  std::string claim_id;     // "C076", or "C097/C103" for a ratio derived from two absolute claims
  std::string kind = "ratio";  // "ratio" (a speed ratio, unit "x") or "absolute"
  std::string statement;
  std::vector<std::string> models;   // ratio: numerator, denominator
  std::string setups_json = "[]";    // per model: batch, res, threads as measured
  std::string metric;                // "inference_throughput", "latency", ...
  std::string unit;                  // "x", "img/s", "ms"
  std::string device, device_class;  // the claim's
  double claimed = 0.0;              // > 0 (0 only when the source states no number)
  double measured = kNoValue, ci_low = kNoValue, ci_high = kNoValue, ci_level = kNoValue;
  double quotient = kNoValue;  // measured / claimed
  std::int64_t rounds = 0;
  double tolerance = 0.0;
  std::string verdict;  // "holds", "does_not_hold", "other_device_class", "not_measurable"
  std::string reason;
  friend bool operator==(const ClaimResultRow&, const ClaimResultRow&) = default;
};

// Throws InvalidArgument naming the field, its value, the rule and the claim, e.g.
// "store: claim result verdict='maybe' must be one of holds, ... [run 3 claim C076]".
void check(const ClaimResultRow& row);

// One subnet of a `hwnas lut` run (the lookup-table predictor's benchmark, apps/lut_command.cpp):
// predicted from its layers and measured end to end. Times are milliseconds.
struct PredictorPointRow {
  std::int64_t run_id = 0;        // a running run
  std::string arch_hash;          // a stored arch; once per run
  std::string role = "held_out";  // "calibrate" (the fit learnt from it) or "held_out"
  double predicted_ms = 0.0;      // the calibrated prediction as it stood before the measurement
  double layer_sum_ms = 0.0;      // the uncalibrated sum of its layers' lookup-table entries
  double n_layers = 0.0;          // layers in that sum (repeated keys counted each time), >= 1
  double measured_ms = 0.0;       // the end-to-end median
  bool contended = false;         // the measurement was flagged contended: it judges nothing
  friend bool operator==(const PredictorPointRow&, const PredictorPointRow&) = default;
};

// Throws InvalidArgument naming the field, its value, the rule and the point, e.g.
// "store: predictor point measured_ms=nan must be finite and > 0 [run 3 arch 0123456789abcdef]".
void check(const PredictorPointRow& row);

// The newest measurement of one point on one device (the cache of a search, the resume of a sweep).
struct MeasurementLookup {
  std::string key;
  std::int64_t device_id = 0;
  std::int64_t threads = 1;
  std::string dtype = "f32";
  std::int64_t batch = 1;
  // Rows flagged "contended" (another process had the CPUs, bench/contention.hpp) are not an
  // answer, so a cache re-times them - except rows of this run, which has already used them and
  // must keep seeing the same value (a resumed search equals an uninterrupted one). 0: none.
  std::int64_t own_run_id = 0;
};

struct StoreOptions {
  sqlite::OpenMode mode = sqlite::OpenMode::CreateOrOpen;
  // How long one write waits for another process's transaction before giving up.
  std::chrono::milliseconds busy_timeout{10000};
  // The schema to bring the file to. Only tests change it (a fake next version exercises the
  // migration path); everything else keeps the built-in list.
  std::span<const Migration> migrations = schema_migrations();
};

struct MergeStats;

class Store {
 public:
  // Opens or creates the store at `path` and brings its schema up to date, one transaction per
  // version. Throws IoError for: a file that is not an hwnas database ("not an hwnas database: <path>
  // ..."), a schema newer than this build ("database schema version 3 is newer than this hwnas (1);
  // upgrade hwnas"), a read-only open of an older schema, an SQLite older than 3.37.
  static Store open(const std::string& path, const StoreOptions& options = {});

  int schema_version() const;
  const std::string& path() const;

  // The device's id; a new key is inserted with first_seen = now, a known one gets its fingerprint
  // refreshed and keeps its id and first_seen.
  std::int64_t upsert_device(std::string_view device_key, std::string_view fingerprint_json);
  std::optional<DeviceRow> device(std::int64_t id) const;

  // Inserts the run as 'running', owned by this process. Returns its id. Ignores id, status,
  // finished_at, drift, pid and host of `run`.
  std::int64_t begin_run(const RunRow& run);
  // Ends a running run with status finished, failed or unfinished. Throws InvalidArgument when the run
  // does not exist or is no longer running, or when status is Running.
  void finish_run(std::int64_t run_id, RunStatus status, std::optional<RunDrift> drift = std::nullopt);
  // Marks 'unfinished' every 'running' run whose process, on this host, no longer exists. Returns how
  // many. open() calls it; a long-lived reader may call it again.
  int mark_stale_runs_unfinished();
  std::vector<RunRow> runs() const;  // oldest first
  std::optional<RunRow> run(std::int64_t id) const;

  // Continues a run that a killed or failed process left, so a command can carry on where it
  // stopped. The run must exist, be of `kind`, and not be running in a live process: a 'running'
  // run whose process is dead is first marked unfinished (as open() does); one whose process is
  // alive, or ran on another host (nothing here can tell), is refused. Sets status running, pid,
  // host and process start to this process, finished_at and drift to NULL; keeps id, uid, config
  // and every row stored under the run. Returns the updated row (its config_json tells the command
  // what to continue). Throws InvalidArgument naming the run and the rule, e.g. "store: cannot
  // resume run 7: run 7 is finished; nothing to resume".
  RunRow resume_run(std::int64_t run_id, std::string_view kind);
  // The distinct keys of the measurements stored under a run, sorted: what a resumed sweep skips.
  std::vector<std::string> measured_keys(std::int64_t run_id) const;

  // Checks and inserts; returns the new ids. add_measurements writes all rows or none.
  std::int64_t add_measurement(const MeasurementRow& row);
  std::vector<std::int64_t> add_measurements(std::span<const MeasurementRow> rows);
  std::vector<MeasurementRow> measurements_for_run(std::int64_t run_id) const;  // in insertion order
  // The most recently inserted match, in any run.
  std::optional<MeasurementRow> latest_measurement(const MeasurementLookup& lookup) const;

  // Stores the architecture under its hash (a known hash keeps its first name and first_seen) and
  // returns the hash. Throws InvalidArgument for an empty hash, name or JSON, and IoError when the
  // hash is already stored with another canonical JSON (a collision, or a change of the canonical
  // form).
  std::string upsert_arch(const ArchRow& arch);
  std::optional<ArchRow> arch(std::string_view hash) const;

  // Checks and inserts every row in one transaction (all or none). Throws InvalidArgument naming
  // the row when its measurement does not exist or its run is no longer running, or when
  // (measurement_id, idx) is already stored.
  void add_layer_times(std::span<const LayerTimeRow> rows);
  std::vector<LayerTimeRow> layer_times(std::int64_t measurement_id) const;  // by idx

  // Search results (search_rows.cpp). add_generation checks every row, then writes the generation
  // and its candidates in one transaction, all or nothing. Throws InvalidArgument when the run does
  // not exist or is not running, when (run, generation) is already stored, when a candidate names
  // another run or generation, or when a candidate's or the population's arch hash is not stored.
  void add_generation(const GenerationRow& generation, std::span<const CandidateRow> candidates);
  std::vector<GenerationRow> generations(std::int64_t run_id) const;  // by generation
  // By generation, then idx; only `generation`'s when given.
  std::vector<CandidateRow> candidates(std::int64_t run_id,
                                       std::optional<std::int64_t> generation = std::nullopt) const;
  // Replaces the run's front, in one transaction. The run must be running; every row must name it
  // and a stored arch.
  void set_front(std::int64_t run_id, std::span<const FrontRow> rows);
  std::vector<FrontRow> front(std::int64_t run_id) const;  // by idx
  // Stores a quality score, replacing the value (and created_at) of the same (hash, method,
  // config). Throws InvalidArgument when the arch is not stored.
  void upsert_quality(const QualityRow& row);
  std::optional<QualityRow> quality(std::string_view arch_hash, std::string_view method,
                                    std::string_view config) const;

  // Claim results of `hwnas reproduce` (claim_rows.cpp). Checks every row, then writes them in one
  // transaction, all or none. Throws InvalidArgument when a row's run does not exist or is not
  // running, or when (run, claim_id) is already stored.
  void add_claim_results(std::span<const ClaimResultRow> rows);
  std::vector<ClaimResultRow> claim_results(std::int64_t run_id) const;  // in insertion order

  // Predictor points of `hwnas lut` (predictor_rows.cpp). Checks every row, then writes them in one
  // transaction, all or none. Throws InvalidArgument naming the arch when a row's run does not
  // exist or is not running, when its arch is not stored, or when (run, arch) is already stored.
  void add_predictor_points(std::span<const PredictorPointRow> rows);
  std::vector<PredictorPointRow> predictor_points(std::int64_t run_id) const;  // insertion order

  Store(Store&&) noexcept;
  Store& operator=(Store&&) noexcept;
  ~Store();

 private:
  struct State;
  friend MergeStats merge_store(Store& dst, const std::string& src_path);  // store/merge.hpp
  explicit Store(std::unique_ptr<State> state);
  // The prepared statements are cursors: a const query still binds and steps them, so State is
  // reached through a pointer and the const methods promise only that the database is not changed.
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
