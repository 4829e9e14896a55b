// The versioned schema of an hwnas database.
//
// PRAGMA user_version holds the schema version; PRAGMA application_id marks the file as an hwnas
// database (so `file(1)` can tell, and so a foreign SQLite database is refused, not "migrated").
// schema_migrations()[i] is the list of SQL steps that takes version i to version i + 1: entry 0
// creates version 1, and a schema change is one more entry at the end, never an edit of an old one.
// Store::open applies each missing entry in its own transaction.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>

namespace hwnas {

// "hwna" in ASCII.
inline constexpr std::int32_t kApplicationId = 0x68776E61;

struct Migration {
  std::span<const std::string_view> steps;  // run in order, in one transaction
};

std::span<const Migration> schema_migrations();

// The version a database has after every built-in migration.
int latest_schema_version();

}  // namespace hwnas
