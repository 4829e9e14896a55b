// The store under real processes: a writer SIGKILLed mid-loop, and two writers at once. Children are
// fork()ed; each opens its own connection after the fork, reports to the parent through a pipe and
// leaves with _exit (no gtest, no atexit handlers in a child).
#include <fcntl.h>
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include "store/store.hpp"
#include "tests/store/store_test_util.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::random_measurement;
using testing::TempDir;

// The rows a writer inserts are a function of (seed, index), so the parent can rebuild what any
// committed row must hold.
MeasurementRow row_of(std::uint64_t seed, std::int64_t run, int index) {
  std::mt19937_64 rng(seed + static_cast<std::uint64_t>(index));
  return random_measurement(run, fmt::format("kill:i={}", index), rng, 64);
}

void write_all(int fd, std::int64_t value) {
  if (write(fd, &value, sizeof value) != sizeof value) _exit(4);  // the parent is gone
}

// Reads one int64 from fd, waiting at most `timeout`. False at end of file or on timeout.
bool read_int64(int fd, std::int64_t& value, std::chrono::milliseconds timeout) {
  auto* bytes = reinterpret_cast<char*>(&value);
  std::size_t got = 0;
  while (got < sizeof value) {
    pollfd p{.fd = fd, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
    const ssize_t n = read(fd, bytes + got, sizeof value - got);
    if (n <= 0) return false;
    got += static_cast<std::size_t>(n);
  }
  return true;
}

// Runs body in a child process that exits 0 when body returns and 1 (message on stderr) when it
// throws. Returns the child's pid.
template <class F>
pid_t spawn(F&& body) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  int code = 0;
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "child %d: %s\n", static_cast<int>(getpid()), e.what());
    code = 1;
  }
  _exit(code);
}

// waitpid with a deadline: a child that hangs is killed and reported, not waited on forever.
int wait_for(pid_t pid, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > until) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      ADD_FAILURE() << "child " << pid << " still running after " << deadline.count() << " s; killed";
      return status;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return status;
}

TEST(StoreProcess, KilledWriterLosesNoCommittedRowAndItsRunBecomesUnfinished) {
  TempDir dir;
  const std::string path = dir.file("kill.db");
  const std::uint64_t seed = testing::fresh_seed("store kill");
  constexpr int kCommitsBeforeKill = 60;
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);

  // The child reports the run id, then the index of every row whose transaction has committed. One
  // row in four goes in a batch of eight rows, so the kill often lands inside a longer transaction.
  const pid_t child = spawn([&] {
    close(pipe_fds[0]);
    Store store = Store::open(path);
    const std::int64_t device = store.upsert_device("cpu:test", "{}");
    const std::int64_t run = store.begin_run({.kind = "sweep", .device_id = device});
    write_all(pipe_fds[1], run);
    for (int i = 0; i < 100000;) {  // bounded: the parent kills it long before
      if (i % 4 == 3) {
        std::vector<MeasurementRow> batch;
        for (int j = 0; j < 8; ++j) batch.push_back(row_of(seed, run, i + j));
        store.add_measurements(batch);
        for (int j = 0; j < 8; ++j) write_all(pipe_fds[1], i + j);
        i += 8;
      } else {
        store.add_measurement(row_of(seed, run, i));
        write_all(pipe_fds[1], i);
        ++i;
      }
    }
  });
  ASSERT_GT(child, 0);
  close(pipe_fds[1]);

  std::int64_t run = 0;
  std::set<std::int64_t> reported;
  ASSERT_TRUE(read_int64(pipe_fds[0], run, std::chrono::seconds(20))) << "the child never began its run";
  for (std::int64_t index = 0; static_cast<int>(reported.size()) < kCommitsBeforeKill;) {
    if (!read_int64(pipe_fds[0], index, std::chrono::seconds(20))) break;
    reported.insert(index);
  }
  kill(child, SIGKILL);
  const int status = wait_for(child, std::chrono::seconds(20));
  // What the child reported between our last read and its death was committed too.
  for (std::int64_t index = 0; read_int64(pipe_fds[0], index, std::chrono::seconds(1));) reported.insert(index);
  close(pipe_fds[0]);
  ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "the child ended on its own (status " << status << ") before the kill; see its stderr";
  ASSERT_GE(static_cast<int>(reported.size()), kCommitsBeforeKill);

  {
    sqlite::Database db = sqlite::Database::open(path);
    EXPECT_EQ(db.query_text("PRAGMA integrity_check"), "ok");
  }
  Store store = Store::open(path);
  EXPECT_EQ(store.run(run).value().status, RunStatus::Unfinished);
  const std::vector<MeasurementRow> rows = store.measurements_for_run(run);
  std::set<std::int64_t> present;
  for (const MeasurementRow& got : rows) {
    const std::int64_t index = std::stoll(got.key.substr(std::string_view("kill:i=").size()));
    present.insert(index);
    // Every row that made it is whole: no torn write.
    MeasurementRow expected = row_of(seed, run, static_cast<int>(index));
    expected.id = got.id;
    expected.device_id = got.device_id;
    expected.created_at = got.created_at;
    EXPECT_EQ(got, expected) << got.key;
  }
  for (std::int64_t index : reported) EXPECT_TRUE(present.count(index)) << "committed row " << index << " lost";
  // Beyond the reported rows, at most what committed between the child's last report and the kill.
  EXPECT_LE(present.size(), reported.size() + 8);
}

TEST(StoreProcess, TwoWritersAtOnceBothSucceed) {
  TempDir dir;
  const std::string path = dir.file("shared.db");  // created by the children, racing
  const std::uint64_t seed = testing::fresh_seed("store concurrency");
  constexpr int kSingles = 200, kBatches = 10, kBatchRows = 10;
  int start[2];
  ASSERT_EQ(pipe(start), 0);

  const auto writer = [&](int which) {
    return [&, which] {
      close(start[1]);
      char go = 0;
      if (read(start[0], &go, 1) < 0) _exit(5);  // returns 0 when the parent closes its end: go
      Store store = Store::open(path);
      const std::int64_t device = store.upsert_device("cpu:shared", "{}");
      const std::int64_t run = store.begin_run({.kind = fmt::format("writer{}", which), .device_id = device});
      int index = which * 100000;
      for (int i = 0; i < kSingles; ++i) {
        // A sweep measures between two writes; this pause stands for that, and lets the other writer
        // take the lock. Without it the writer that starts first tends to keep the lock through its
        // whole loop, while the other sleeps in the busy handler, and the writes hardly interleave.
        std::this_thread::sleep_for(std::chrono::microseconds(200));
        store.add_measurement(row_of(seed, run, index++));
        if (i % (kSingles / kBatches) == 0) {
          std::vector<MeasurementRow> batch;
          for (int j = 0; j < kBatchRows; ++j) batch.push_back(row_of(seed, run, index++));
          store.add_measurements(batch);
        }
      }
      store.finish_run(run, RunStatus::Finished);
    };
  };
  const pid_t a = spawn(writer(0));
  const pid_t b = spawn(writer(1));
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  close(start[0]);
  close(start[1]);  // both children start now

  for (pid_t child : {a, b}) {
    const int status = wait_for(child, std::chrono::seconds(60));
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "writer " << child << " failed (status " << status << "); its error is on stderr";
  }
  Store store = Store::open(path);
  const std::vector<RunRow> runs = store.runs();
  ASSERT_EQ(runs.size(), 2u);
  std::size_t total = 0;
  for (const RunRow& r : runs) {
    EXPECT_EQ(r.status, RunStatus::Finished) << r.kind;
    EXPECT_EQ(r.device_id, runs[0].device_id) << "both writers upserted one device";
    const std::size_t rows = store.measurements_for_run(r.id).size();
    EXPECT_EQ(rows, static_cast<std::size_t>(kSingles + kBatches * kBatchRows)) << r.kind;
    total += rows;
  }
  EXPECT_EQ(total, static_cast<std::size_t>(2 * (kSingles + kBatches * kBatchRows)));
  sqlite::Database db = sqlite::Database::open(path);
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM measurements"), static_cast<std::int64_t>(total));
  EXPECT_EQ(db.query_int64("SELECT count(*) FROM devices"), 1);
  EXPECT_EQ(db.query_text("PRAGMA integrity_check"), "ok");
}

}  // namespace
}  // namespace hwnas
