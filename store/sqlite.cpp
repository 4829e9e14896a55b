#include "store/sqlite.hpp"

#include <fmt/format.h>
#include <sqlite3.h>

#include <cstdint>
#include <limits>
#include <thread>
#include <utility>

namespace hwnas::sqlite {

namespace {

// SQLITE_TRANSIENT is an old-style cast in a macro; this is the same value without the warning.
// Transient makes SQLite copy the bound bytes, so a caller may bind a temporary and step later.
const sqlite3_destructor_type kTransient =
    reinterpret_cast<sqlite3_destructor_type>(static_cast<std::intptr_t>(-1));

// "sqlite: <what the connection says> (<what the code means>) in "<sql>" [<path>]". The code's own text
// is left out where it only repeats the message ("database is locked (database is locked)").
std::string describe(sqlite3* db, int rc, std::string_view sql, std::string_view path) {
  const std::string_view code_text = sqlite3_errstr(rc);
  const std::string_view message = db != nullptr ? sqlite3_errmsg(db) : code_text;
  const std::string code = message == code_text ? "" : fmt::format(" ({})", code_text);
  return fmt::format("sqlite: {}{} in \"{}\" [{}]", message, code, sql, path);
}

[[noreturn]] void throw_error(sqlite3* db, int rc, std::string_view sql, std::string_view path) {
  throw SqliteError(describe(db, rc, sql, path), rc);
}

// What prepare() left after the first statement: blanks and semicolons, or a second statement that
// would otherwise be silently dropped.
bool only_blanks(std::string_view text) { return text.find_first_not_of(" \t\r\n;") == std::string_view::npos; }

}  // namespace

bool SqliteError::is_busy() const { return primary_code() == SQLITE_BUSY; }
bool SqliteError::is_not_a_db() const { return primary_code() == SQLITE_NOTADB; }

// ---------------------------------------------------------------------------------------------------
// Database

Database Database::open(const std::string& path, const DatabaseOptions& options) {
  const int flags = options.mode == OpenMode::ReadOnly ? SQLITE_OPEN_READONLY
                                                       : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  sqlite3* handle = nullptr;
  // URI: so `ATTACH 'file:...?mode=ro'` opens a merge source read-only (store/merge.cpp), whatever
  // SQLITE_USE_URI the library was built with (Debian's is, so plain paths behave as before).
  const int rc = sqlite3_open_v2(path.c_str(), &handle,
                                 flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_URI, nullptr);
  if (rc != SQLITE_OK) {
    const std::string message = describe(handle, rc, "open", path);
    sqlite3_close_v2(handle);  // open may return a handle even when it fails; NULL is a no-op
    throw SqliteError(message, rc);
  }
  Database db(handle, path);  // owns the handle from here, also if a pragma throws
  sqlite3_extended_result_codes(handle, 1);
  sqlite3_busy_timeout(handle, static_cast<int>(options.busy_timeout.count()));
  db.exec("PRAGMA foreign_keys = ON");
  if (options.mode != OpenMode::ReadOnly) {
    // The first statement that reads the file: a file that is not a database fails here (NOTADB).
    // Reading the mode needs only a shared lock; switching (once, on a new file) needs more, below.
    std::string journal = db.query_text("PRAGMA journal_mode");
    if (journal != "wal" && journal != "memory") journal = db.switch_to_wal(options.busy_timeout);
    if (journal != "wal" && journal != "memory") {
      throw IoError(fmt::format("sqlite: cannot switch to WAL journal mode (journal_mode={}); WAL needs "
                                "a local file system with shared memory [{}]",
                                journal, path));
    }
    db.exec("PRAGMA synchronous = NORMAL");
  }
  return db;
}

std::string Database::switch_to_wal(std::chrono::milliseconds busy_timeout) {
  // Switching to WAL needs an exclusive lock, and SQLite answers SQLITE_BUSY at once, without calling
  // the busy handler, while another connection uses the file: typically a second process creating
  // the same new database at the same moment. So retry here, for as long as the busy timeout.
  Statement wal = prepare("PRAGMA journal_mode = WAL");
  const auto deadline = std::chrono::steady_clock::now() + busy_timeout;
  for (int attempt = 1;; ++attempt) {
    const int rc = sqlite3_step(wal.stmt_);
    if (rc == SQLITE_ROW) return wal.column_text(0);
    if ((rc & 0xff) != SQLITE_BUSY || std::chrono::steady_clock::now() > deadline) {
      wal.fail(rc, fmt::format("attempt {}, busy timeout {} ms", attempt, busy_timeout.count()));
    }
    wal.reset();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

void Database::exec(std::string_view sql) {
  // sqlite3_exec needs a NUL-terminated string; our SQL is short and written once.
  const std::string text(sql);
  const int rc = sqlite3_exec(db_, text.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) throw_error(db_, rc, sql, path_);
}

Statement Database::prepare(std::string_view sql) const {
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  // PERSISTENT: these statements live as long as the connection (prepared once, reused).
  const int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT,
                                    &stmt, &tail);
  if (rc != SQLITE_OK) throw_error(db_, rc, sql, path_);
  Statement statement(stmt, path_);  // finalizes stmt if a check below throws
  if (stmt == nullptr) {
    throw IoError(fmt::format("sqlite: no statement to prepare in \"{}\" [{}]", sql, path_));
  }
  const std::string_view rest = sql.substr(static_cast<std::size_t>(tail - sql.data()));
  if (!only_blanks(rest)) {
    throw IoError(fmt::format("sqlite: prepare takes one statement, but \"{}\" follows it in \"{}\" [{}]",
                              rest, sql, path_));
  }
  return statement;
}

Statement Database::at_first_row(std::string_view sql) const {
  Statement s = prepare(sql);
  if (!s.step()) throw IoError(fmt::format("sqlite: no row from \"{}\" [{}]", sql, path_));
  return s;
}

std::int64_t Database::query_int64(std::string_view sql) const { return at_first_row(sql).column_int64(0); }
std::string Database::query_text(std::string_view sql) const { return at_first_row(sql).column_text(0); }

bool Database::in_transaction() const { return sqlite3_get_autocommit(db_) == 0; }

Database::Database(Database&& other) noexcept
    : db_(std::exchange(other.db_, nullptr)), path_(std::move(other.path_)) {}

Database& Database::operator=(Database&& other) noexcept {
  std::swap(db_, other.db_);
  std::swap(path_, other.path_);
  return *this;
}

// close_v2 defers the close until every statement of the connection is finalized, so the order in
// which a class declares its Database and Statement members does not matter.
Database::~Database() { sqlite3_close_v2(db_); }

// ---------------------------------------------------------------------------------------------------
// Statement

void Statement::fail(int rc, std::string_view what) const {
  sqlite3* db = sqlite3_db_handle(stmt_);
  throw SqliteError(fmt::format("{} ({})", describe(db, rc, sqlite3_sql(stmt_), path_), what), rc);
}

void Statement::check_bind(int rc, int index) {
  if (rc != SQLITE_OK) fail(rc, fmt::format("binding ?{}", index));
}

Statement& Statement::bind(int index, std::int64_t value) {
  check_bind(sqlite3_bind_int64(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  check_bind(sqlite3_bind_double(stmt_, index, value), index);
  return *this;
}

Statement& Statement::bind(int index, std::string_view value) {
  // A default string_view has a null data(), which SQLite would bind as NULL; "" is an empty text.
  const char* data = value.data() != nullptr ? value.data() : "";
  check_bind(sqlite3_bind_text64(stmt_, index, data, value.size(), kTransient, SQLITE_UTF8), index);
  return *this;
}

Statement& Statement::bind(int index, std::span<const std::byte> value) {
  // A null pointer would bind NULL, not an empty blob.
  const int rc = value.empty() ? sqlite3_bind_zeroblob(stmt_, index, 0)
                               : sqlite3_bind_blob64(stmt_, index, value.data(), value.size(), kTransient);
  check_bind(rc, index);
  return *this;
}

Statement& Statement::bind(int index, std::nullptr_t) {
  check_bind(sqlite3_bind_null(stmt_, index), index);
  return *this;
}

bool Statement::step() {
  const int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  fail(rc, "step");
}

void Statement::step_and_reset() {
  ScopedReset reset_at_exit(*this);
  while (step()) {
  }
}

void Statement::reset() noexcept {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

bool Statement::is_null(int column) const { return sqlite3_column_type(stmt_, column) == SQLITE_NULL; }

std::int64_t Statement::column_int64(int column) const { return sqlite3_column_int64(stmt_, column); }

double Statement::column_double(int column) const {
  return is_null(column) ? std::numeric_limits<double>::quiet_NaN() : sqlite3_column_double(stmt_, column);
}

std::string Statement::column_text(int column) const {
  // text before bytes: column_bytes then measures the UTF-8 text column_text produced.
  const unsigned char* text = sqlite3_column_text(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (text == nullptr) return {};
  return {reinterpret_cast<const char*>(text), static_cast<std::size_t>(size)};
}

std::span<const std::byte> Statement::column_blob(int column) const {
  const void* data = sqlite3_column_blob(stmt_, column);
  const int size = sqlite3_column_bytes(stmt_, column);
  if (data == nullptr) return {};
  return {static_cast<const std::byte*>(data), static_cast<std::size_t>(size)};
}

std::string_view Statement::sql() const { return sqlite3_sql(stmt_); }

Statement::Statement(Statement&& other) noexcept
    : stmt_(std::exchange(other.stmt_, nullptr)), path_(std::move(other.path_)) {}

Statement& Statement::operator=(Statement&& other) noexcept {
  std::swap(stmt_, other.stmt_);
  std::swap(path_, other.path_);
  return *this;
}

Statement::~Statement() { sqlite3_finalize(stmt_); }

// ---------------------------------------------------------------------------------------------------
// Transaction

Transaction::Transaction(Database& db) : db_(db) {
  // The busy handler already waits up to the busy timeout for the write lock; these few extra
  // attempts cover the SQLITE_BUSY cases it is not called for (another connection running WAL
  // recovery or a checkpoint restart), so two processes writing at once both get through.
  constexpr int kAttempts = 4;
  constexpr std::string_view kBegin = "BEGIN IMMEDIATE";
  for (int attempt = 1;; ++attempt) {
    const int rc = sqlite3_exec(db_.db_, kBegin.data(), nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) return;
    if ((rc & 0xff) != SQLITE_BUSY || attempt == kAttempts) {
      throw SqliteError(fmt::format("{} (attempt {} of {})", describe(db_.db_, rc, kBegin, db_.path_),
                                    attempt, kAttempts),
                        rc);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20 * attempt));
  }
}

void Transaction::commit() {
  db_.exec("COMMIT");
  committed_ = true;
}

Transaction::~Transaction() {
  // After some errors (SQLITE_FULL, SQLITE_IOERR, ...) SQLite has already rolled back on its own;
  // a second ROLLBACK would fail, so roll back only what is still open. Nothing here may throw.
  if (!committed_ && db_.in_transaction()) {
    sqlite3_exec(db_.db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

}  // namespace hwnas::sqlite
