#include "store/arch_rows.hpp"

#include <fmt/format.h>

#include <cmath>
#include <utility>

#include "store/row_io.hpp"

namespace hwnas {

using sqlite::Database;
using sqlite::Statement;
using sqlite::Transaction;
using store_detail::all_rows;
using store_detail::decode_samples;
using store_detail::encode_samples;
using store_detail::first_row;
using store_detail::returning_id;

namespace {

// A known hash keeps its first name; RETURNING gives the stored JSON either way, so a hash that
// already names another network is caught here rather than silently sharing its measurements.
constexpr std::string_view kUpsertArch = R"sql(
INSERT INTO archs (hash, canonical_json, name, first_seen)
VALUES (?1, ?2, ?3, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
ON CONFLICT (hash) DO UPDATE SET name = archs.name
RETURNING canonical_json)sql";

constexpr std::string_view kSelectArch =
    "SELECT hash, canonical_json, name, first_seen FROM archs WHERE hash = ?1";

// Only an Arch measurement of a running run takes layer times (as only a running run takes
// measurements); OR IGNORE turns a repeated (measurement_id, idx) into "no row", which
// add_layer_times then explains along with the other reasons.
constexpr std::string_view kInsertLayerTime = R"sql(
INSERT OR IGNORE INTO layer_times (measurement_id, idx, name, kind, key, flops, bytes, params, min_ms,
                                   p10_ms, median_ms, p90_ms, mean_ms, cv, share, n, inner_repeats, samples)
SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18
FROM measurements JOIN runs ON runs.id = measurements.run_id
WHERE measurements.id = ?1 AND measurements.kind = 'arch' AND runs.status = 'running'
RETURNING idx)sql";

constexpr std::string_view kSelectLayerTimes = R"sql(
SELECT measurement_id, idx, name, kind, key, flops, bytes, params, min_ms, p10_ms, median_ms, p90_ms,
       mean_ms, cv, share, n, inner_repeats, samples
FROM layer_times WHERE measurement_id = ?1 ORDER BY idx)sql";

constexpr std::string_view kSelectMeasurementRun = R"sql(
SELECT measurements.kind, runs.id, runs.status
FROM measurements JOIN runs ON runs.id = measurements.run_id WHERE measurements.id = ?1)sql";

ArchRow read_arch(const Statement& s) {
  return {.hash = s.column_text(0),
          .canonical_json = s.column_text(1),
          .name = s.column_text(2),
          .first_seen = s.column_text(3)};
}

LayerTimeRow read_layer_time(const Statement& s, const std::string& path) {
  const std::int64_t measurement_id = s.column_int64(0), idx = s.column_int64(1);
  return {.measurement_id = measurement_id,
          .idx = idx,
          .name = s.column_text(2),
          .kind = s.column_text(3),
          .key = s.column_text(4),
          .flops = s.column_double(5),
          .bytes = s.column_double(6),
          .params = s.column_double(7),
          .min_ms = s.column_double(8),
          .p10_ms = s.column_double(9),
          .median_ms = s.column_double(10),
          .p90_ms = s.column_double(11),
          .mean_ms = s.column_double(12),
          .cv = s.column_double(13),
          .share = s.column_double(14),
          .n = s.column_int64(15),
          .inner_repeats = s.column_int64(16),
          .samples_ms = decode_samples(
              s.column_blob(17),
              fmt::format("layer time {} of measurement {}", idx, measurement_id), path)};
}

}  // namespace

void check(const LayerTimeRow& r) {
  const auto fail = [&](std::string_view field, const auto& value, std::string_view rule) {
    throw InvalidArgument(fmt::format("store: layer time {}={} {} [{}]", field, value, rule,
                                      r.name.empty() ? fmt::format("idx {}", r.idx) : r.name));
  };
  for (const auto& [field, text] :
       {std::pair{"name", &r.name}, std::pair{"kind", &r.kind}, std::pair{"key", &r.key}}) {
    if (text->empty()) fail(field, "''", "must not be empty");
  }
  if (r.idx < 0) fail("idx", r.idx, "must be >= 0");
  for (const auto& [field, value] :
       {std::pair{"n", r.n}, std::pair{"inner_repeats", r.inner_repeats}}) {
    if (value < 1) fail(field, value, "must be >= 1");
  }
  if (std::cmp_not_equal(r.samples_ms.size(), r.n)) {
    fail("n", r.n, fmt::format("must equal the number of samples ({})", r.samples_ms.size()));
  }
  const std::pair<const char*, double> required[] = {
      {"flops", r.flops},   {"bytes", r.bytes},    {"params", r.params},
      {"min_ms", r.min_ms}, {"p10_ms", r.p10_ms},  {"median_ms", r.median_ms},
      {"p90_ms", r.p90_ms}, {"mean_ms", r.mean_ms}};
  for (const auto& [field, value] : required) {
    if (!(std::isfinite(value) && value >= 0)) fail(field, value, "must be finite and >= 0");
  }
  if (std::isinf(r.cv)) fail("cv", r.cv, "must be finite, or NaN where undefined");
  if (!(r.share >= 0 && r.share <= 1)) fail("share", r.share, "must be in [0, 1]");
  for (std::size_t i = 0; i < r.samples_ms.size(); ++i) {
    const double v = r.samples_ms[i];
    if (!(std::isfinite(v) && v >= 0))
      fail(fmt::format("samples_ms[{}]", i), v, "must be finite and >= 0");
  }
}

namespace store_detail {

ArchStatements::ArchStatements(const Database& db)
    : upsert_arch(db.prepare(kUpsertArch)),
      select_arch(db.prepare(kSelectArch)),
      insert_layer_time(db.prepare(kInsertLayerTime)),
      select_layer_times(db.prepare(kSelectLayerTimes)),
      select_measurement_run(db.prepare(kSelectMeasurementRun)) {}

std::string upsert_arch(Database& db, ArchStatements& q, const ArchRow& arch) {
  for (const auto& [field, text] :
       {std::pair{"hash", &arch.hash}, std::pair{"canonical_json", &arch.canonical_json},
        std::pair{"name", &arch.name}}) {
    if (text->empty())
      throw InvalidArgument(fmt::format("store: arch {}='' must not be empty", field));
  }
  Transaction tx(db);
  q.upsert_arch.bind(1, arch.hash).bind(2, arch.canonical_json).bind(3, arch.name);
  // An upsert always returns its row.
  const std::string stored =
      *first_row(q.upsert_arch, [](const Statement& s) { return s.column_text(0); });
  if (stored != arch.canonical_json) {
    throw IoError(
        fmt::format("store: arch hash {} is already stored for another network (stored {} bytes of "
                    "JSON, given {}; a hash collision or a changed canonical form) [{}]",
                    arch.hash, stored.size(), arch.canonical_json.size(), db.path()));
  }
  tx.commit();
  return arch.hash;
}

std::optional<ArchRow> find_arch(ArchStatements& q, std::string_view hash) {
  return first_row(q.select_arch.bind(1, hash), read_arch);
}

void add_layer_times(Database& db, ArchStatements& q, std::span<const LayerTimeRow> rows) {
  for (const LayerTimeRow& r : rows) check(r);  // before taking the write lock
  Transaction tx(db);
  for (const LayerTimeRow& r : rows) {
    const std::vector<std::byte> samples = encode_samples(r.samples_ms);
    Statement& s = q.insert_layer_time;
    s.bind(1, r.measurement_id)
        .bind(2, r.idx)
        .bind(3, r.name)
        .bind(4, r.kind)
        .bind(5, r.key)
        .bind(6, r.flops)
        .bind(7, r.bytes)
        .bind(8, r.params)
        .bind(9, r.min_ms)
        .bind(10, r.p10_ms)
        .bind(11, r.median_ms)
        .bind(12, r.p90_ms)
        .bind(13, r.mean_ms)
        .bind(14, r.cv)
        .bind(15, r.share)
        .bind(16, r.n)
        .bind(17, r.inner_repeats)
        .bind(18, std::span<const std::byte>(samples));
    if (returning_id(s)) continue;
    struct Owner {
      std::string kind;
      std::int64_t run_id;
      std::string status;
    };
    const auto owner =
        first_row(q.select_measurement_run.bind(1, r.measurement_id), [](const Statement& o) {
          return Owner{o.column_text(0), o.column_int64(1), o.column_text(2)};
        });
    std::string why;
    if (!owner) {
      why = fmt::format("measurement {} does not exist", r.measurement_id);
    } else if (owner->kind != "arch") {
      why = fmt::format("measurement {} is of kind {}, not arch", r.measurement_id, owner->kind);
    } else if (owner->status != "running") {
      why = fmt::format("its run {} is {}, not running", owner->run_id, owner->status);
    } else {
      why = fmt::format("idx {} of measurement {} is already stored", r.idx, r.measurement_id);
    }
    throw InvalidArgument(
        fmt::format("store: cannot add layer time {} ({}): {}", r.idx, r.name, why));
  }
  tx.commit();
}

std::vector<LayerTimeRow> layer_times(const Database& db, ArchStatements& q,
                                      std::int64_t measurement_id) {
  return all_rows(q.select_layer_times.bind(1, measurement_id),
                  [&db](const Statement& s) { return read_layer_time(s, db.path()); });
}

}  // namespace store_detail
}  // namespace hwnas
