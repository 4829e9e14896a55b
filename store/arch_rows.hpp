// Internal to store/: the archs and layer_times tables (schema version 2), kept apart from
// store.cpp so each file stays one subject. Store's members forward here; apps/ never includes this
// header.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace hwnas::store_detail {

// Prepared once with the Store (STYLE.md §8), reused by bind / step / reset.
struct ArchStatements {
  explicit ArchStatements(const sqlite::Database& db);
  sqlite::Statement upsert_arch, select_arch, insert_layer_time, select_layer_times,
      select_measurement_run;
};

std::string upsert_arch(sqlite::Database& db, ArchStatements& q, const ArchRow& arch);
std::optional<ArchRow> find_arch(ArchStatements& q, std::string_view hash);
void add_layer_times(sqlite::Database& db, ArchStatements& q, std::span<const LayerTimeRow> rows);
std::vector<LayerTimeRow> layer_times(const sqlite::Database& db, ArchStatements& q,
                                      std::int64_t measurement_id);

}  // namespace hwnas::store_detail
