// A thin RAII layer over SQLite's C API: Database (a connection), Statement (prepared once, then
// bind / step / reset, as SQLite's own tests use it) and Transaction (BEGIN IMMEDIATE ... COMMIT, rolled
// back unless committed).
//
// Every failure becomes a SqliteError (an IoError) whose message holds sqlite3_errmsg, the result code,
// the SQL and the database path (STYLE.md §4.4), e.g.
//   sqlite: no such table: nope (SQL logic error) in "SELECT * FROM nope" [/tmp/hwnas.db]
//
// sqlite3.h stays in store/*.cpp (DESIGN.md): this header only forward-declares SQLite's two handle
// types. Nothing here is thread-safe; a connection belongs to one thread, and never crosses a fork().
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "kernels/error.hpp"

struct sqlite3;
struct sqlite3_stmt;

namespace hwnas::sqlite {

// An IoError that also carries SQLite's extended result code, so a caller can tell "busy" or "not a
// database" from other failures without parsing the message.
class SqliteError : public IoError {
 public:
  SqliteError(const std::string& message, int extended_code) : IoError(message), code_(extended_code) {}
  int extended_code() const { return code_; }
  int primary_code() const { return code_ & 0xff; }
  bool is_busy() const;        // SQLITE_BUSY, any extended variant: another connection holds a lock
  bool is_not_a_db() const;    // SQLITE_NOTADB: the file exists but is not an SQLite database

 private:
  int code_;
};

enum class OpenMode {
  CreateOrOpen,  // read-write; an absent file is created
  ReadOnly,      // the file must exist; nothing is written (no WAL switch, no pragmas that write)
};

struct DatabaseOptions {
  OpenMode mode = OpenMode::CreateOrOpen;
  // How long a statement waits for another connection's lock before failing with SQLITE_BUSY.
  // Several seconds, so two processes writing to one file take turns instead of failing.
  std::chrono::milliseconds busy_timeout{5000};
};

class Statement;

class Database {
 public:
  // Opens `path` (":memory:" for a private in-memory database) and configures the connection:
  // busy timeout, foreign keys on, and for read-write connections WAL journal mode (readers never
  // block the writer, and a killed writer loses only its uncommitted transaction) with
  // synchronous=NORMAL (WAL commits stay atomic and consistent; only the last commits before a power
  // loss, not a process kill, may be lost). Throws IoError (SqliteError when SQLite reports it)
  // naming the path.
  static Database open(const std::string& path, const DatabaseOptions& options = {});

  // Runs one or more statements that return no rows we need (DDL, pragmas).
  void exec(std::string_view sql);
  // Prepares one statement; trailing text after it is an error (it would be silently ignored).
  Statement prepare(std::string_view sql) const;
  // The first column of the first row of `sql` as int64 / text (pragmas, counts). Throws if no row.
  std::int64_t query_int64(std::string_view sql) const;
  std::string query_text(std::string_view sql) const;

  // Whether a transaction is open on this connection.
  bool in_transaction() const;
  const std::string& path() const { return path_; }

  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  ~Database();

 private:
  friend class Transaction;
  std::string switch_to_wal(std::chrono::milliseconds busy_timeout);
  Statement at_first_row(std::string_view sql) const;  // prepared and stepped once; throws if no row
  Database(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_ = nullptr;
  std::string path_;
};

// A prepared statement. Parameters are 1-based (SQLite's ?1, ?2, ...), columns 0-based. After the last
// step, reset() makes it ready for the next bind; ScopedReset does that on every path out of a scope.
class Statement {
 public:
  Statement& bind(int index, std::int64_t value);
  Statement& bind(int index, double value);  // NaN is stored as NULL (SQLite's rule)
  Statement& bind(int index, std::string_view value);
  Statement& bind(int index, std::span<const std::byte> value);  // blob; an empty span is a 0-byte blob
  Statement& bind(int index, std::nullptr_t);
  // Any integer type (int, bool, ...) binds as int64; without this, bind(1, 5) would be ambiguous.
  template <class T>
    requires std::is_integral_v<T>
  Statement& bind(int index, T value) {
    return bind(index, static_cast<std::int64_t>(value));
  }
  template <class T>
  Statement& bind(int index, const std::optional<T>& value) {
    return value ? bind(index, *value) : bind(index, nullptr);
  }

  // Advances to the next row: true when a row is available, false when the statement is done.
  bool step();
  // Runs the statement to completion (rows, if any, are discarded), then resets it.
  void step_and_reset();
  // Rewinds the statement and clears its bindings. Never fails: an error was already reported by the
  // step() that met it.
  void reset() noexcept;

  bool is_null(int column) const;
  std::int64_t column_int64(int column) const;
  double column_double(int column) const;  // NULL reads as NaN (the inverse of bind(double))
  std::string column_text(int column) const;
  // The bytes stay valid until the next step() or reset().
  std::span<const std::byte> column_blob(int column) const;

  std::string_view sql() const;

  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&& other) noexcept;
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  ~Statement();

 private:
  friend class Database;
  Statement(sqlite3_stmt* stmt, std::string path) : stmt_(stmt), path_(std::move(path)) {}
  [[noreturn]] void fail(int rc, std::string_view what) const;
  void check_bind(int rc, int index);

  sqlite3_stmt* stmt_ = nullptr;
  std::string path_;  // for error messages only
};

// Resets a statement when the scope ends, also when an exception leaves it, so a half-read query
// never keeps its read transaction open and never carries stale bindings into its next use.
class ScopedReset {
 public:
  explicit ScopedReset(Statement& statement) : statement_(statement) {}
  ~ScopedReset() { statement_.reset(); }
  ScopedReset(const ScopedReset&) = delete;
  ScopedReset& operator=(const ScopedReset&) = delete;

 private:
  Statement& statement_;
};

// BEGIN IMMEDIATE now; COMMIT in commit(); ROLLBACK in the destructor unless committed. IMMEDIATE takes
// the write lock at the start, so a writer waits (busy timeout) instead of failing later with an
// unretryable SQLITE_BUSY_SNAPSHOT when it upgrades a read. Beginning is retried a bounded number of
// times on SQLITE_BUSY, for the waits the busy handler does not cover (e.g. WAL recovery).
// Transactions do not nest.
class Transaction {
 public:
  explicit Transaction(Database& db);
  void commit();
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;

 private:
  Database& db_;
  bool committed_ = false;
};

}  // namespace hwnas::sqlite
