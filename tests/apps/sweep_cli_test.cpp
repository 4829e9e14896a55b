// `hwnas sweep` as a user runs it: the real binary in a child process, a tiny grid, the quick
// policy.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <ranges>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "store/merge.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"
#include "tests/apps/cli_test_util.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::run_hwnas_in;
using testing::ScratchDir;
using testing::spawn_hwnas;

// Small points that each time in a few milliseconds under --policy quick.
constexpr std::string_view kGrid = R"({"name": "tiny", "shapes": {"s": {"h": 6, "w": 6, "c": 16}},
  "blocks": [{"op": "linear", "params": {"m": [4, 8, 12], "k": 8, "n": 8}},
             {"op": "dwconv", "params": {"k": [3, 5]}, "shapes": ["s"]},
             {"op": "pool_mixer", "params": {"pool": 3}, "ladder": {"res": [16, 32, 48], "stage": 1, "c": 8}}]})";
constexpr std::size_t kGridPoints = 8;

class SweepCliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = (dir_ / "t.db").string();
    grid_ = write("grid.json", kGrid);
  }

  std::string write(const std::string& name, std::string_view text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  CliResult hwnas(const std::string& args) { return run_hwnas_in(args, dir_); }
  std::vector<std::string> dry_run_keys(const std::string& extra = "",
                                        const std::string& grid = "") {
    const CliResult r =
        hwnas("sweep --grid " + (grid.empty() ? grid_ : grid) + " --dry-run " + extra);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::vector<std::string> keys;
    std::istringstream lines(r.out);
    for (std::string line; std::getline(lines, line);) {
      if (!line.empty() && line[0] != '#') keys.push_back(line);
    }
    return keys;
  }
  // Starts `hwnas sweep --grid grid --policy quick --threads 1` and returns once the store holds a
  // measurement of its run (`committed`, `run_id`), or after 60 s.
  pid_t spawn_and_wait_for_a_commit(const std::string& grid, std::vector<MeasurementRow>& committed,
                                    std::int64_t& run_id) {
    const pid_t pid =
        spawn_hwnas({"sweep", "--grid", grid, "--policy", "quick", "--threads", "1", "--db", db_});
    EXPECT_GE(pid, 0);
    for (int attempt = 0; attempt < 3000 && committed.empty(); ++attempt) {
      usleep(20'000);
      if (!fs::exists(db_)) continue;
      try {
        Store reader = Store::open(db_, {.mode = sqlite::OpenMode::ReadOnly});
        for (const RunRow& run : reader.runs()) {
          run_id = run.id;
          committed = reader.measurements_for_run(run.id);
        }
      } catch (const IoError&) {  // the writer may still be creating the schema
      }
    }
    return pid;
  }
  static std::vector<std::string> keys_of_run(const Store& store, std::int64_t run_id) {
    std::vector<std::string> keys;
    for (const MeasurementRow& row : store.measurements_for_run(run_id)) keys.push_back(row.key);
    return keys;
  }

  ScratchDir scratch_;
  fs::path dir_ = scratch_.path();
  std::string db_, grid_;
};

std::vector<std::string> sorted(std::vector<std::string> v) {
  std::sort(v.begin(), v.end());
  return v;
}

TEST_F(SweepCliTest, DryRunPrintsThePointsAndOpensNoStore) {
  const CliResult r = hwnas("sweep --grid " + grid_ + " --dry-run --db " + db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("8 points"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("linear:m=12,k=8,n=8,bias=1,act=none\n"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("pool_mixer:n=1,h=12,w=12,c=8,pool=3\n"), std::string::npos) << r.out;
  EXPECT_EQ(dry_run_keys().size(), kGridPoints);
  EXPECT_FALSE(fs::exists(db_));
}

TEST_F(SweepCliTest, StoresOneRowPerPointAndPrintsTheSummary) {
  const CliResult r = hwnas("sweep --grid " + grid_ + " --policy quick --threads 1 --db " + db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Store store = Store::open(db_);
  const std::vector<RunRow> runs = store.runs();
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].kind, "sweep");
  EXPECT_EQ(runs[0].status, RunStatus::Finished);
  EXPECT_TRUE(runs[0].drift.has_value()) << "the drift check brackets a sweep";
  const auto config = nlohmann::json::parse(runs[0].config_json);
  EXPECT_EQ(config["grid"], grid_);
  EXPECT_EQ(config["shard"], "0/1");
  EXPECT_EQ(config["threads"], 1);
  EXPECT_EQ(config["policy"], "quick");
  EXPECT_EQ(config["grid_digest"].get<std::string>().size(), 16u);
  const std::vector<MeasurementRow> rows = store.measurements_for_run(runs[0].id);
  std::vector<std::string> keys;
  for (const MeasurementRow& row : rows) {
    keys.push_back(row.key);
    EXPECT_EQ(row.kind, MeasurementKind::Op);
    EXPECT_TRUE(row.repro.starts_with("hwnas bench-op ")) << row.repro;
    EXPECT_GT(row.median_ms, 0) << row.key;
    EXPECT_EQ(row.threads, 1);
    EXPECT_NE(r.out.find(row.key), std::string::npos) << "summary lacks " << row.key;
  }
  EXPECT_EQ(keys, dry_run_keys()) << "one row per point, in grid order";
  EXPECT_NE(r.out.find("GFLOP/s"), std::string::npos) << r.out;
  // Not a TTY: plain log lines, no carriage returns.
  EXPECT_EQ(r.err.find('\r'), std::string::npos);
  EXPECT_NE(r.err.find("[sweep] 8/8 key="), std::string::npos) << r.err;
}

// A sweep killed with SIGKILL after its first commit, then resumed: every point stored exactly
// once, and the points committed before the kill are the same rows (not measured again).
TEST_F(SweepCliTest, KilledSweepResumesAndMeasuresNoPointTwice) {
  // More points than the kill can race past: 40 linear shapes.
  const std::string grid =
      write("long.json", R"({"blocks": [{"op": "linear", "params": {"m": [)" +
                             fmt::format("{}", fmt::join(std::views::iota(1, 41), ",")) +
                             R"(], "k": 64, "n": 64}}]})");
  std::vector<MeasurementRow> before;
  std::int64_t run_id = 0;
  const pid_t pid = spawn_and_wait_for_a_commit(grid, before, run_id);
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the sweep finished before it could be killed";
  ASSERT_FALSE(before.empty()) << "no point was committed within 60 s";
  {
    Store store = Store::open(db_);  // marks the killed run unfinished
    EXPECT_EQ(store.run(run_id)->status, RunStatus::Unfinished);
  }

  const CliResult r =
      hwnas("sweep --grid " + grid + " --resume " + std::to_string(run_id) + " --db " + db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("measured_before="), std::string::npos) << r.err;
  Store store = Store::open(db_);
  EXPECT_EQ(store.runs().size(), 1u) << "the resumed run is the same run";
  EXPECT_EQ(store.run(run_id)->status, RunStatus::Finished);
  const std::vector<MeasurementRow> after = store.measurements_for_run(run_id);
  std::vector<std::string> keys;
  for (const MeasurementRow& row : after) keys.push_back(row.key);
  EXPECT_EQ(keys.size(), 40u);
  EXPECT_EQ(std::set<std::string>(keys.begin(), keys.end()).size(), 40u)
      << "a point was measured twice";
  EXPECT_EQ(sorted(keys), sorted(dry_run_keys("", grid)));
  for (std::size_t i = 0; i < before.size(); ++i)
    EXPECT_EQ(after[i].id, before[i].id) << before[i].key;
  const auto config = nlohmann::json::parse(store.run(run_id)->config_json);
  EXPECT_EQ(config["threads"], 1) << "--threads and --policy came from the run";
}

// SIGTERM (as Ctrl-C's SIGINT) stops the sweep between two points: it exits 1 naming the run to
// resume, and the run reads 'unfinished' at once, without waiting for the next read-write open.
TEST_F(SweepCliTest, TerminatedSweepMarksItsRunUnfinished) {
  const std::string grid =
      write("long.json", R"({"blocks": [{"op": "linear", "params": {"m": [)" +
                             fmt::format("{}", fmt::join(std::views::iota(1, 41), ",")) +
                             R"(], "k": 64, "n": 64}}]})");
  std::vector<MeasurementRow> before;
  std::int64_t run_id = 0;
  const pid_t pid = spawn_and_wait_for_a_commit(grid, before, run_id);
  kill(pid, SIGTERM);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_FALSE(before.empty());
  ASSERT_TRUE(WIFEXITED(status)) << "killed by the signal instead of stopping between points";
  EXPECT_EQ(WEXITSTATUS(status), 1);
  Store reader = Store::open(db_, {.mode = sqlite::OpenMode::ReadOnly});
  EXPECT_EQ(reader.run(run_id)->status, RunStatus::Unfinished);
  EXPECT_LT(reader.measurements_for_run(run_id).size(), 40u);
}

TEST_F(SweepCliTest, ShardsSplitTheGridAndMergeIntoIt) {
  const std::string a = (dir_ / "a.db").string(), b = (dir_ / "b.db").string();
  for (const auto& [shard, db] : {std::pair{"0/2", a}, std::pair{"1/2", b}}) {
    const CliResult r = hwnas("sweep --grid " + grid_ + " --shard " + shard +
                              " --policy quick --threads 1 --db " + db);
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  Store sa = Store::open(a), sb = Store::open(b);
  const std::vector<std::string> ka = keys_of_run(sa, sa.runs().at(0).id),
                                 kb = keys_of_run(sb, sb.runs().at(0).id);
  EXPECT_EQ(ka, dry_run_keys("--shard 0/2"));
  EXPECT_EQ(kb, dry_run_keys("--shard 1/2"));
  std::vector<std::string> both = ka;
  both.insert(both.end(), kb.begin(), kb.end());
  EXPECT_EQ(sorted(both), sorted(dry_run_keys())) << "the shards are disjoint and cover the grid";
  EXPECT_FALSE(ka.empty());
  EXPECT_FALSE(kb.empty());

  const std::string out = (dir_ / "out.db").string();
  const CliResult merged = hwnas("merge " + a + " " + b + " -o " + out);
  if (merged.err.find("unknown command 'merge'") != std::string::npos) {
    // This build predates `hwnas merge` (wt/store): fold the shards with the function it runs.
    Store dst = Store::open(out);
    merge_store(dst, a);
    merge_store(dst, b);
    merge_store(dst, b);  // twice adds nothing
  } else {
    ASSERT_EQ(merged.exit_code, 0) << merged.err;
  }
  Store so = Store::open(out);
  std::vector<std::string> all;
  for (const RunRow& run : so.runs()) {
    for (std::string& k : keys_of_run(so, run.id)) all.push_back(std::move(k));
  }
  EXPECT_EQ(sorted(all), sorted(dry_run_keys())) << "the merged store holds the grid once";
}

TEST_F(SweepCliTest, BadInputIsOneLineExitTwoAndNamesTheValue) {
  const std::string bad_op =
      write("bad_op.json", R"({"blocks": [{"op": "linear"}, {"op": "nope"}]})");
  const std::string bad_value =
      write("bad_value.json", R"({"blocks": [{"op": "linear", "params": {"m": [4, 0]}}]})");
  const std::pair<std::string, std::string> cases[] = {
      {"sweep --grid " + bad_op, "block 1 (nope): bench-op: unknown op 'nope'"},
      {"sweep --grid " + bad_value,
       "bad_value.json: block 0 (linear): linear: m=0 is out of range"},
      {"sweep --grid " + grid_ + " --shard 2/2", "--shard 2/2: i=2 must be in [0, N-1 = 1]"},
      {"sweep --grid " + grid_ + " --shard 0/0", "--shard 0/0: N=0 must be >= 1"},
      {"sweep --grid " + grid_ + " --shard x", "--shard x: must be i/N"},
      {"sweep --grid " + grid_ + " --policy slow", "--policy slow is not one of default, quick"},
      {"sweep --grid " + grid_ + " --threads 0", "threads=0"},
      {"sweep", "--grid is required"},
      {"sweep --grid " + grid_ + " --resume 3", "--resume 3: no database at"},
  };
  for (const auto& [args, expected] : cases) {
    const CliResult r = hwnas(args + " --db " + db_);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << args << "\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_FALSE(fs::exists(db_)) << args << " created a store";
  }
  const CliResult missing = hwnas("sweep --grid " + (dir_ / "none.json").string() + " --db " + db_);
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("cannot read grid file"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(db_));
}

TEST_F(SweepCliTest, ResumeRefusesAnotherKindGridShardOrThreadsAndAFinishedRun) {
  ASSERT_EQ(hwnas("bench-op linear m=4 k=4 n=4 --policy quick --threads 1 --db " + db_).exit_code,
            0);
  ASSERT_EQ(hwnas("sweep --grid " + grid_ + " --shard 1/2 --policy quick --threads 1 --db " + db_)
                .exit_code,
            0);
  std::int64_t op_run = 0, sweep_run = 0;
  std::size_t run_count = 0;
  {
    Store store = Store::open(db_);
    for (const RunRow& run : store.runs()) {
      if (run.kind == "sweep") sweep_run = run.id;
      if (run.kind == "bench-op") op_run = run.id;
      ++run_count;
    }
  }
  ASSERT_GT(op_run, 0);
  ASSERT_GT(sweep_run, 0);
  const std::string op = std::to_string(op_run), sw = std::to_string(sweep_run);
  const std::string other =
      write("other.json", R"({"blocks": [{"op": "linear", "params": {"m": 5}}]})");
  const std::pair<std::string, std::string> cases[] = {
      {"--grid " + grid_ + " --resume " + op,
       "--resume " + op + ": run " + op + " is a 'bench-op' run, not a sweep"},
      {"--grid " + grid_ + " --resume 99", "--resume 99: no run 99"},
      {"--grid " + other + " --resume " + sw, "are not those run " + sw + " swept"},
      {"--grid " + grid_ + " --resume " + sw + " --shard 0/2",
       "--resume " + sw + ": --shard \"0/2\" differs from the run's \"1/2\""},
      {"--grid " + grid_ + " --resume " + sw + " --threads 2",
       "--threads 2 differs from the run's 1"},
      {"--grid " + grid_ + " --resume " + sw + " --policy default",
       "--policy \"default\" differs from the run's \"quick\""},
      {"--grid " + grid_ + " --resume " + sw, "run " + sw + " is finished; nothing to resume"},
  };
  for (const auto& [args, expected] : cases) {
    const CliResult r = hwnas("sweep " + args + " --db " + db_);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(expected), std::string::npos) << args << "\n" << r.err;
  }
  Store store = Store::open(db_);
  EXPECT_EQ(store.runs().size(), run_count) << "a refused resume begins no run";
  EXPECT_EQ(store.run(sweep_run)->status, RunStatus::Finished);
}

}  // namespace
}  // namespace hwnas
