#include "store/store.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <bit>
#include <cmath>
#include <random>
#include <utility>

#include "store/process_identity.hpp"
#include "store/row_io.hpp"
#include "store/store_state.hpp"

namespace hwnas {

using sqlite::Database;
using sqlite::ScopedReset;
using sqlite::SqliteError;
using sqlite::Statement;
using sqlite::Transaction;
using store_detail::all_rows;
using store_detail::decode_samples;
using store_detail::empty_as_null;
using store_detail::encode_samples;
using store_detail::first_row;
using store_detail::kRunColumns;
using store_detail::read_measurement;
using store_detail::read_run;
using store_detail::returning_id;

namespace {

// STRICT tables arrived in 3.37.0 (RETURNING in 3.35.0, json_valid built in by default in 3.38.0).
constexpr int kMinSqliteVersion = 3037000;

// ---------------------------------------------------------------------------------------------------
// SQL. Every value is a bound parameter (STYLE.md §9.8); "now" is SQLite's clock, in UTC.

constexpr std::string_view kUpsertDevice = R"sql(
INSERT INTO devices (device_key, fingerprint_json, first_seen)
VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT (device_key) DO UPDATE SET fingerprint_json = excluded.fingerprint_json
RETURNING id)sql";

constexpr std::string_view kSelectDevice =
    "SELECT id, device_key, fingerprint_json, first_seen FROM devices WHERE id = ?1";

constexpr std::string_view kInsertRun = R"sql(
INSERT INTO runs (kind, device_id, config_json, status, started_at, code_version, software_json,
                  pid, host, process_start, uid)
VALUES (?1, ?2, ?3, 'running', coalesce(?4, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ?5, ?6, ?7, ?8, ?9,
        ?10)
RETURNING id)sql";

constexpr std::string_view kFinishRun = R"sql(
UPDATE runs SET status = ?2, finished_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), drift_rel = ?3,
                drifted = ?4
WHERE id = ?1 AND status = 'running'
RETURNING id)sql";

constexpr std::string_view kSelectRunning =
    "SELECT id, pid, host, process_start FROM runs WHERE status = 'running'";

constexpr std::string_view kMarkUnfinished =
    "UPDATE runs SET status = 'unfinished' WHERE id = ?1 AND status = 'running' RETURNING id";

// The device of a measurement is the device of its run, and only a running run takes measurements:
// the SELECT yields no row (and so inserts none) otherwise, which add_measurements reports.
constexpr std::string_view kInsertMeasurement = R"sql(
INSERT INTO measurements (run_id, device_id, kind, key, params_json, shapes, threads, dtype, batch, impl,
                          flops, bytes, min_ms, p10_ms, median_ms, p90_ms, p99_ms, mean_ms, stddev_ms,
                          mad_ms, cv, ci_low_ms, ci_high_ms, n, inner_repeats, samples, repro,
                          created_at, flags, arch_hash)
SELECT ?1, runs.device_id, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
       ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, coalesce(?27, strftime('%Y-%m-%dT%H:%M:%fZ', 'now')), ?28,
       ?29
FROM runs WHERE runs.id = ?1 AND runs.status = 'running'
  AND (?29 IS NULL OR EXISTS (SELECT 1 FROM archs WHERE archs.hash = ?29))
RETURNING id)sql";

constexpr std::string_view kMeasurementColumns =
    "id, run_id, device_id, kind, key, params_json, shapes, threads, dtype, batch, impl, flops, bytes, "
    "min_ms, p10_ms, median_ms, p90_ms, p99_ms, mean_ms, stddev_ms, mad_ms, cv, ci_low_ms, ci_high_ms, "
    "n, inner_repeats, samples, repro, created_at, flags, arch_hash";

// ---------------------------------------------------------------------------------------------------
// Values <-> columns

RunStatus parse_run_status(const std::string& text, std::int64_t run_id) {
  for (RunStatus s : {RunStatus::Running, RunStatus::Finished, RunStatus::Failed, RunStatus::Unfinished}) {
    if (to_string(s) == text) return s;
  }
  throw IoError(fmt::format("store: run {} has unknown status '{}'", run_id, text));
}

MeasurementKind parse_measurement_kind(const std::string& text, std::int64_t id) {
  for (MeasurementKind k : {MeasurementKind::Op, MeasurementKind::Arch}) {
    if (to_string(k) == text) return k;
  }
  throw IoError(fmt::format("store: measurement {} has unknown kind '{}'", id, text));
}

DeviceRow read_device(const Statement& s) {
  return {.id = s.column_int64(0),
          .device_key = s.column_text(1),
          .fingerprint_json = s.column_text(2),
          .first_seen = s.column_text(3)};
}

// 128 random bits as 32 lowercase hex digits. std::random_device draws on the OS's entropy at every
// call, so a fork()ed child does not repeat its parent's uids, as a seeded generator it inherited
// would.
std::string new_run_uid() {
  std::random_device entropy;
  std::string uid;
  for (int i = 0; i < 4; ++i) uid += fmt::format("{:08x}", static_cast<std::uint32_t>(entropy()));
  return uid;
}

// ---------------------------------------------------------------------------------------------------
// Opening: identify the file, then migrate.

// The schema version of an hwnas database (0 for an empty file). Throws for any other database.
int schema_version_of(const Database& db) {
  // One statement, so one snapshot: read one by one, the three could straddle another process's
  // commit of the first migration and describe a file that never existed (no id, but tables).
  Statement q = db.prepare(
      "SELECT (SELECT application_id FROM pragma_application_id), (SELECT user_version FROM "
      "pragma_user_version), (SELECT count(*) FROM sqlite_schema)");
  q.step();  // scalar subqueries: always one row
  const std::int64_t app = q.column_int64(0), version = q.column_int64(1), objects = q.column_int64(2);
  if (app == kApplicationId) return static_cast<int>(version);
  if (app == 0 && version == 0 && objects == 0) return 0;
  throw IoError(fmt::format("not an hwnas database: {} (an SQLite database with application_id={}, "
                            "user_version={} and {} schema objects)",
                            db.path(), app, version, objects));
}

void check_not_newer(int version, int latest, const std::string& path) {
  if (version > latest) {
    throw IoError(fmt::format("database schema version {} is newer than this hwnas ({}); upgrade hwnas [{}]",
                              version, latest, path));
  }
}

// Applies every missing migration, each in its own transaction. The version is read again under the
// write lock: another process may have migrated the file since we looked.
void migrate(Database& db, std::span<const Migration> migrations) {
  const int latest = static_cast<int>(migrations.size());
  for (;;) {
    Transaction tx(db);
    const int version = schema_version_of(db);
    check_not_newer(version, latest, db.path());
    if (version == latest) return;  // nothing written; the destructor ends the transaction
    for (std::string_view step : migrations[static_cast<std::size_t>(version)].steps) db.exec(step);
    // A pragma takes no bound parameter; the value is our own integer.
    db.exec(fmt::format("PRAGMA user_version = {}", version + 1));
    tx.commit();
  }
}

struct Opened {
  Database db;
  int version;
};

Opened open_database(const std::string& path, const StoreOptions& options) {
  if (sqlite3_libversion_number() < kMinSqliteVersion) {
    throw IoError(fmt::format("SQLite {} is too old: hwnas needs 3.37 or newer (STRICT tables) [{}]",
                              sqlite3_libversion(), path));
  }
  const int latest = static_cast<int>(options.migrations.size());
  try {
    Database db = Database::open(path, {.mode = options.mode, .busy_timeout = options.busy_timeout});
    const int version = schema_version_of(db);
    check_not_newer(version, latest, path);
    if (version < latest) {
      if (options.mode == sqlite::OpenMode::ReadOnly) {
        if (version == 0) throw IoError(fmt::format("not an hwnas database: {} (empty)", path));
        throw IoError(fmt::format("database schema version {} is older than this hwnas ({}); open it "
                                  "read-write once to migrate it [{}]",
                                  version, latest, path));
      }
      migrate(db, options.migrations);
    }
    return {std::move(db), latest};  // migrated, or already there
  } catch (const SqliteError& e) {
    // SQLite says "file is not a database" at the first read of a file that is something else.
    if (e.is_not_a_db()) throw IoError(fmt::format("not an hwnas database: {} ({})", path, e.what()));
    throw;
  }
}

}  // namespace

namespace store_detail {

RunRow read_run(const Statement& s) {
  const std::int64_t id = s.column_int64(0);
  RunRow r{.id = id,
           .kind = s.column_text(1),
           .device_id = s.column_int64(2),
           .config_json = s.column_text(3),
           .status = parse_run_status(s.column_text(4), id),
           .started_at = s.column_text(5),
           .code_version = s.column_text(7),
           .software_json = s.column_text(8),
           .pid = s.column_int64(11),
           .host = s.column_text(12)};
  // NULL only in a file whose migration to version 3 was interrupted; the migration backfills it.
  if (!s.is_null(13)) r.uid = s.column_text(13);
  if (!s.is_null(6)) r.finished_at = s.column_text(6);
  if (!s.is_null(9))
    r.drift = RunDrift{.rel = s.column_double(9), .drifted = s.column_int64(10) != 0};
  return r;
}

MeasurementRow read_measurement(const Statement& s, const std::string& path) {
  const std::int64_t id = s.column_int64(0);
  return {.id = id,
          .run_id = s.column_int64(1),
          .device_id = s.column_int64(2),
          .kind = parse_measurement_kind(s.column_text(3), id),
          .key = s.column_text(4),
          .params_json = s.column_text(5),
          .shapes = s.column_text(6),
          .threads = s.column_int64(7),
          .dtype = s.column_text(8),
          .batch = s.column_int64(9),
          .impl = s.column_text(10),
          .flops = s.column_double(11),
          .bytes = s.column_double(12),
          .min_ms = s.column_double(13),
          .p10_ms = s.column_double(14),
          .median_ms = s.column_double(15),
          .p90_ms = s.column_double(16),
          .p99_ms = s.column_double(17),
          .mean_ms = s.column_double(18),
          .stddev_ms = s.column_double(19),
          .mad_ms = s.column_double(20),
          .cv = s.column_double(21),
          .ci_low_ms = s.column_double(22),
          .ci_high_ms = s.column_double(23),
          .n = s.column_int64(24),
          .inner_repeats = s.column_int64(25),
          .samples_ms = decode_samples(s.column_blob(26), fmt::format("measurement {}", id), path),
          .repro = s.column_text(27),
          .created_at = s.column_text(28),
          .flags = s.column_text(29),
          .arch_hash = s.is_null(30) ? std::string() : s.column_text(30)};
}

}  // namespace store_detail

std::string_view to_string(RunStatus status) {
  switch (status) {
    case RunStatus::Running: return "running";
    case RunStatus::Finished: return "finished";
    case RunStatus::Failed: return "failed";
    case RunStatus::Unfinished: return "unfinished";
  }
  return "?";
}

std::string_view to_string(MeasurementKind kind) {
  switch (kind) {
    case MeasurementKind::Op: return "op";
    case MeasurementKind::Arch: return "arch";
  }
  return "?";
}

void check(const MeasurementRow& r) {
  const auto fail = [&](std::string_view field, const auto& value, std::string_view rule) {
    throw InvalidArgument(fmt::format("store: measurement {}={} {} [{}]", field, value, rule, r.key));
  };
  if (r.key.empty()) fail("key", "''", "must not be empty");
  for (const auto& [name, value] : {std::pair{"threads", r.threads}, std::pair{"batch", r.batch},
                                    std::pair{"n", r.n}, std::pair{"inner_repeats", r.inner_repeats}}) {
    if (value < 1) fail(name, value, "must be >= 1");
  }
  if (std::cmp_not_equal(r.samples_ms.size(), r.n)) {
    fail("n", r.n, fmt::format("must equal the number of samples ({})", r.samples_ms.size()));
  }
  if (r.kind == MeasurementKind::Arch && r.arch_hash.empty()) {
    fail("arch_hash", "''", "must name the measured arch when kind=arch");
  }
  if (r.kind == MeasurementKind::Op && !r.arch_hash.empty()) {
    fail("arch_hash", r.arch_hash, "must be empty when kind=op");
  }
  const std::pair<const char*, double> required[] = {
      {"flops", r.flops},         {"bytes", r.bytes},   {"min_ms", r.min_ms}, {"p10_ms", r.p10_ms},
      {"median_ms", r.median_ms}, {"p90_ms", r.p90_ms}, {"p99_ms", r.p99_ms}, {"mean_ms", r.mean_ms}};
  for (const auto& [name, value] : required) {
    if (!(std::isfinite(value) && value >= 0)) fail(name, value, "must be finite and >= 0");
  }
  const std::pair<const char*, double> optional[] = {{"stddev_ms", r.stddev_ms},
                                                     {"mad_ms", r.mad_ms},
                                                     {"cv", r.cv},
                                                     {"ci_low_ms", r.ci_low_ms},
                                                     {"ci_high_ms", r.ci_high_ms}};
  for (const auto& [name, value] : optional) {
    if (std::isinf(value)) fail(name, value, "must be finite, or NaN where undefined");
  }
  for (std::size_t i = 0; i < r.samples_ms.size(); ++i) {
    const double v = r.samples_ms[i];
    if (!(std::isfinite(v) && v >= 0)) fail(fmt::format("samples_ms[{}]", i), v, "must be finite and >= 0");
  }
}

// ---------------------------------------------------------------------------------------------------
// Store

Store::State::State(Database database, int schema_version)
    : db(std::move(database)),
      version(schema_version),
      upsert_device(db.prepare(kUpsertDevice)),
      select_device(db.prepare(kSelectDevice)),
      insert_run(db.prepare(kInsertRun)),
      finish_run(db.prepare(kFinishRun)),
      select_runs(db.prepare(fmt::format("SELECT {} FROM runs ORDER BY id", kRunColumns))),
      select_run(db.prepare(fmt::format("SELECT {} FROM runs WHERE id = ?1", kRunColumns))),
      select_running(db.prepare(kSelectRunning)),
      mark_unfinished(db.prepare(kMarkUnfinished)),
      insert_measurement(db.prepare(kInsertMeasurement)),
      select_run_measurements(db.prepare(fmt::format(
          "SELECT {} FROM measurements WHERE run_id = ?1 ORDER BY id", kMeasurementColumns))),
      select_latest_measurement(db.prepare(fmt::format(
          "SELECT {} FROM measurements WHERE key = ?1 AND device_id = ?2 AND threads = ?3 "
          "AND dtype = ?4 AND batch = ?5 "
          "AND (instr(',' || flags || ',', ',contended,') = 0 OR run_id = ?6) "
          "ORDER BY id DESC LIMIT 1",
          kMeasurementColumns))),
      arch(db),
      resume(db),
      search(db),
      claims(db),
      predictor(db) {}

std::string Store::State::why_run_not_running(std::int64_t run_id) {
  const std::optional<RunRow> run = first_row(select_run.bind(1, run_id), read_run);
  if (!run) return fmt::format("run {} does not exist", run_id);
  return fmt::format("run {} is {}, not running", run_id, to_string(run->status));
}

void Store::State::require_running(std::int64_t run_id, std::string_view what) {
  const std::optional<RunRow> run = first_row(select_run.bind(1, run_id), read_run);
  if (!run || run->status != RunStatus::Running) {
    throw InvalidArgument(fmt::format("store: cannot {}: {}", what, why_run_not_running(run_id)));
  }
}

Store::Store(std::unique_ptr<State> state) : state_(std::move(state)) {}
Store::Store(Store&&) noexcept = default;
Store& Store::operator=(Store&&) noexcept = default;
Store::~Store() = default;

Store Store::open(const std::string& path, const StoreOptions& options) {
  Opened opened = open_database(path, options);
  Store store(std::make_unique<State>(std::move(opened.db), opened.version));
  if (options.mode != sqlite::OpenMode::ReadOnly) store.mark_stale_runs_unfinished();
  return store;
}

int Store::schema_version() const { return state_->version; }
const std::string& Store::path() const { return state_->db.path(); }

std::int64_t Store::upsert_device(std::string_view device_key, std::string_view fingerprint_json) {
  if (device_key.empty()) throw InvalidArgument("store: device_key='' must not be empty");
  State& s = *state_;
  Transaction tx(s.db);
  // An upsert always returns its row.
  const std::int64_t id = *returning_id(s.upsert_device.bind(1, device_key).bind(2, fingerprint_json));
  tx.commit();
  return id;
}

std::optional<DeviceRow> Store::device(std::int64_t id) const {
  return first_row(state_->select_device.bind(1, id), read_device);
}

std::int64_t Store::begin_run(const RunRow& run) {
  if (run.kind.empty()) throw InvalidArgument("store: run kind='' must not be empty");
  const ProcessIdentity me = current_process();
  const std::string uid = new_run_uid();
  State& s = *state_;
  Transaction tx(s.db);
  s.insert_run.bind(1, run.kind)
      .bind(2, run.device_id)
      .bind(3, run.config_json)
      .bind(4, empty_as_null(run.started_at))
      .bind(5, run.code_version)
      .bind(6, run.software_json)
      .bind(7, me.pid)
      .bind(8, me.host)
      .bind(9, me.start)
      .bind(10, uid);
  const std::int64_t id = *returning_id(s.insert_run);  // VALUES: always one row
  tx.commit();
  return id;
}

void Store::finish_run(std::int64_t run_id, RunStatus status, std::optional<RunDrift> drift) {
  if (status == RunStatus::Running) {
    throw InvalidArgument(fmt::format("store: finish_run(run {}) status=running must be finished, failed or "
                                      "unfinished",
                                      run_id));
  }
  State& s = *state_;
  Transaction tx(s.db);
  s.finish_run.bind(1, run_id).bind(2, to_string(status));
  if (drift) {
    s.finish_run.bind(3, drift->rel).bind(4, drift->drifted);
  } else {
    s.finish_run.bind(3, nullptr).bind(4, nullptr);
  }
  if (!returning_id(s.finish_run)) {
    throw InvalidArgument(fmt::format("store: cannot finish run {} as {}: {}", run_id, to_string(status),
                                      s.why_run_not_running(run_id)));
  }
  tx.commit();
}

int Store::mark_stale_runs_unfinished() {
  State& s = *state_;
  // Look first, without the write lock (reading /proc takes a moment), then mark under it; the
  // UPDATE's "status = 'running'" keeps a run that finished in between untouched.
  const auto running = all_rows(s.select_running, [](const Statement& q) {
    return std::pair{q.column_int64(0), ProcessIdentity{.pid = q.column_int64(1),
                                                        .host = q.column_text(2),
                                                        .start = q.column_text(3)}};
  });
  std::vector<std::int64_t> dead;
  for (const auto& [id, owner] : running) {
    if (liveness(owner) == Liveness::Dead) dead.push_back(id);
  }
  if (dead.empty()) return 0;
  int marked = 0;
  Transaction tx(s.db);
  for (std::int64_t id : dead) {
    if (returning_id(s.mark_unfinished.bind(1, id))) ++marked;
  }
  tx.commit();
  return marked;
}

std::vector<RunRow> Store::runs() const { return all_rows(state_->select_runs, read_run); }

std::optional<RunRow> Store::run(std::int64_t id) const {
  return first_row(state_->select_run.bind(1, id), read_run);
}

std::int64_t Store::add_measurement(const MeasurementRow& row) { return add_measurements({&row, 1}).front(); }

std::vector<std::int64_t> Store::add_measurements(std::span<const MeasurementRow> rows) {
  for (const MeasurementRow& r : rows) check(r);  // before taking the write lock
  State& s = *state_;
  std::vector<std::int64_t> ids;
  ids.reserve(rows.size());
  Transaction tx(s.db);
  for (const MeasurementRow& r : rows) {
    Statement& q = s.insert_measurement;
    const std::vector<std::byte> samples = encode_samples(r.samples_ms);
    q.bind(1, r.run_id)
        .bind(2, to_string(r.kind))
        .bind(3, r.key)
        .bind(4, r.params_json)
        .bind(5, r.shapes)
        .bind(6, r.threads)
        .bind(7, r.dtype)
        .bind(8, r.batch)
        .bind(9, r.impl)
        .bind(10, r.flops)
        .bind(11, r.bytes)
        .bind(12, r.min_ms)
        .bind(13, r.p10_ms)
        .bind(14, r.median_ms)
        .bind(15, r.p90_ms)
        .bind(16, r.p99_ms)
        .bind(17, r.mean_ms)
        .bind(18, r.stddev_ms)
        .bind(19, r.mad_ms)
        .bind(20, r.cv)
        .bind(21, r.ci_low_ms)
        .bind(22, r.ci_high_ms)
        .bind(23, r.n)
        .bind(24, r.inner_repeats)
        .bind(25, std::span<const std::byte>(samples))
        .bind(26, r.repro)
        .bind(27, empty_as_null(r.created_at))
        .bind(28, r.flags)
        .bind(29, empty_as_null(r.arch_hash));
    const std::optional<std::int64_t> id = returning_id(q);
    if (!id) {
      const std::optional<RunRow> run = first_row(s.select_run.bind(1, r.run_id), read_run);
      if (run && run->status == RunStatus::Running) {  // then the SELECT found no such arch
        throw InvalidArgument(
            fmt::format("store: cannot add a measurement of arch_hash={}: no such arch; "
                        "upsert_arch it first [{}]",
                        r.arch_hash, r.key));
      }
      throw InvalidArgument(fmt::format("store: cannot add a measurement to {} [{}]",
                                        s.why_run_not_running(r.run_id), r.key));
    }
    ids.push_back(*id);
  }
  tx.commit();
  return ids;
}

std::vector<MeasurementRow> Store::measurements_for_run(std::int64_t run_id) const {
  return all_rows(state_->select_run_measurements.bind(1, run_id), state_->measurement_reader());
}

std::optional<MeasurementRow> Store::latest_measurement(const MeasurementLookup& lookup) const {
  Statement& q = state_->select_latest_measurement;
  q.bind(1, lookup.key)
      .bind(2, lookup.device_id)
      .bind(3, lookup.threads)
      .bind(4, lookup.dtype)
      .bind(5, lookup.batch)
      .bind(6, lookup.own_run_id);
  return first_row(q, state_->measurement_reader());
}

// Architectures and per-layer times: the SQL and the checks are in arch_rows.cpp.

std::string Store::upsert_arch(const ArchRow& arch) {
  return store_detail::upsert_arch(state_->db, state_->arch, arch);
}

std::optional<ArchRow> Store::arch(std::string_view hash) const {
  return store_detail::find_arch(state_->arch, hash);
}

void Store::add_layer_times(std::span<const LayerTimeRow> rows) {
  store_detail::add_layer_times(state_->db, state_->arch, rows);
}

std::vector<LayerTimeRow> Store::layer_times(std::int64_t measurement_id) const {
  return store_detail::layer_times(state_->db, state_->arch, measurement_id);
}

}  // namespace hwnas
