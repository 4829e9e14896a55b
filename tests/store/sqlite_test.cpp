#include "store/sqlite.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <vector>

#include "tests/store/store_test_util.hpp"

namespace hwnas {
namespace {

using sqlite::Database;
using sqlite::OpenMode;
using sqlite::Statement;
using sqlite::Transaction;
using testing::TempDir;
using testing::throws_with;

TEST(Sqlite, OpensInWalModeWithForeignKeys) {
  TempDir dir;
  Database db = Database::open(dir.file("a.db"));
  EXPECT_EQ(db.query_text("PRAGMA journal_mode"), "wal");
  EXPECT_EQ(db.query_int64("PRAGMA foreign_keys"), 1);
  EXPECT_EQ(db.query_int64("PRAGMA synchronous"), 1);  // NORMAL
  EXPECT_GE(db.query_int64("PRAGMA busy_timeout"), 1000);
}

TEST(Sqlite, BindsAndReadsEveryType) {
  Database db = Database::open(":memory:");
  db.exec("CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, z ANY) STRICT");
  Statement insert = db.prepare("INSERT INTO t VALUES (?1, ?2, ?3, ?4, ?5)");
  const std::vector<std::byte> blob = {std::byte{0}, std::byte{0xff}, std::byte{7}};
  insert.bind(1, std::int64_t{-9007199254740993}).bind(2, 0.1).bind(3, "héllo").bind(4, std::span(blob));
  insert.bind(5, nullptr).step_and_reset();
  // Empty text and empty blob are values, not NULL; NaN becomes NULL and reads back as NaN.
  insert.bind(1, 3).bind(2, std::numeric_limits<double>::quiet_NaN()).bind(3, std::string_view());
  insert.bind(4, std::span<const std::byte>()).bind(5, true).step_and_reset();

  Statement select = db.prepare("SELECT i, r, s, b, z, s IS NULL, b IS NULL FROM t ORDER BY rowid");
  ASSERT_TRUE(select.step());
  EXPECT_EQ(select.column_int64(0), -9007199254740993);
  EXPECT_EQ(select.column_double(1), 0.1);
  EXPECT_EQ(select.column_text(2), "héllo");
  const std::span<const std::byte> got = select.column_blob(3);
  ASSERT_EQ(got.size(), blob.size());
  EXPECT_EQ(std::memcmp(got.data(), blob.data(), blob.size()), 0);
  EXPECT_TRUE(select.is_null(4));
  ASSERT_TRUE(select.step());
  EXPECT_EQ(select.column_int64(0), 3);
  EXPECT_TRUE(std::isnan(select.column_double(1)));
  EXPECT_EQ(select.column_text(2), "");
  EXPECT_TRUE(select.column_blob(3).empty());
  EXPECT_EQ(select.column_int64(4), 1);
  EXPECT_EQ(select.column_int64(5), 0) << "empty text stored as NULL";
  EXPECT_EQ(select.column_int64(6), 0) << "empty blob stored as NULL";
  EXPECT_FALSE(select.step());
}

TEST(Sqlite, ResetMakesAStatementReusable) {
  Database db = Database::open(":memory:");
  db.exec("CREATE TABLE t (x INTEGER) STRICT");
  Statement insert = db.prepare("INSERT INTO t VALUES (?1)");
  for (int i = 0; i < 5; ++i) insert.bind(1, i).step_and_reset();
  Statement sum = db.prepare("SELECT sum(x) FROM t WHERE x >= ?1");
  for (int from : {0, 3}) {
    sqlite::ScopedReset reset(sum);
    ASSERT_TRUE(sum.bind(1, from).step());
    EXPECT_EQ(sum.column_int64(0), from == 0 ? 10 : 7);
  }
}

TEST(Sqlite, ErrorsNameTheSqlTheReasonAndThePath) {
  TempDir dir;
  const std::string path = dir.file("errors.db");
  Database db = Database::open(path);
  db.exec("CREATE TABLE t (x INTEGER NOT NULL) STRICT");
  EXPECT_TRUE(throws_with<IoError>([&] { db.exec("SELEC 1"); }, "syntax error"));
  EXPECT_TRUE(throws_with<IoError>([&] { db.exec("SELEC 1"); }, "in \"SELEC 1\" [" + path + "]"));
  EXPECT_TRUE(throws_with<IoError>([&] { db.prepare("SELECT * FROM nope"); },
                                   "no such table: nope (SQL logic error) in \"SELECT * FROM nope\""));
  // A constraint fails at step; STRICT refuses a text in an INTEGER column.
  Statement insert = db.prepare("INSERT INTO t VALUES (?1)");
  EXPECT_TRUE(throws_with<IoError>([&] { insert.bind(1, "seven").step(); },
                                   "cannot store TEXT value in INTEGER column t.x"));
  insert.reset();
  EXPECT_TRUE(throws_with<IoError>([&] { insert.bind(1, nullptr).step(); }, "NOT NULL constraint failed: t.x"));
  insert.reset();
  EXPECT_TRUE(throws_with<IoError>([&] { insert.bind(2, 1); }, "binding ?2"));
  EXPECT_TRUE(throws_with<IoError>([&] { db.prepare("SELECT 1; SELECT 2"); }, "prepare takes one statement"));
  EXPECT_TRUE(throws_with<IoError>([&] { Database::open(dir.file("absent/x.db")); }, "absent/x.db"));
  EXPECT_TRUE(throws_with<IoError>([&] { Database::open(dir.file("none.db"), {.mode = OpenMode::ReadOnly}); },
                                   "none.db"));
}

TEST(Sqlite, TransactionRollsBackOnException) {
  Database db = Database::open(":memory:");
  db.exec("CREATE TABLE t (x INTEGER) STRICT");
  try {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (1)");
    EXPECT_TRUE(db.in_transaction());
    throw std::runtime_error("boom");
  } catch (const std::runtime_error&) {
  }
  EXPECT_FALSE(db.in_transaction());
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t"), 0);
  {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (2)");
  }  // not committed
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t"), 0);
  {
    Transaction tx(db);
    db.exec("INSERT INTO t VALUES (3)");
    tx.commit();
  }
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM t"), 1);
}

TEST(Sqlite, BusyWriterWaitsThenFailsWithTheReason) {
  TempDir dir;
  const std::string path = dir.file("busy.db");
  Database a = Database::open(path);
  a.exec("CREATE TABLE t (x INTEGER) STRICT");
  Database b = Database::open(path, {.busy_timeout = std::chrono::milliseconds(50)});
  Transaction holds_the_lock(a);
  try {
    Transaction tx(b);
    FAIL() << "a second writer got the lock";
  } catch (const sqlite::SqliteError& e) {
    EXPECT_TRUE(e.is_busy()) << e.what();
    EXPECT_NE(std::string(e.what()).find("database is locked in \"BEGIN IMMEDIATE\""), std::string::npos)
        << e.what();
    EXPECT_NE(std::string(e.what()).find("attempt 4 of 4"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace hwnas
