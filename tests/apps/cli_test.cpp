// The hwnas CLI as a user runs it: the real binary in a child process, a scratch database.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <nlohmann/json.hpp>
#include <string>

#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;

struct Result {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `hwnas args` with stdout and stderr captured to files (the arguments are test constants).
Result run_hwnas(const std::string& args, const fs::path& dir) {
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string command = std::string(HWNAS_BINARY) + " " + args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(command.c_str());
  Result r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const auto slurp = [](const fs::path& p) {
    std::ifstream in(p);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("hwnas_cli_test_" + std::to_string(getpid()) + "_" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    db_ = (dir_ / "t.db").string();
  }
  void TearDown() override { fs::remove_all(dir_); }
  Result hwnas(const std::string& args) { return run_hwnas(args, dir_); }

  fs::path dir_;
  std::string db_;
};

TEST_F(CliTest, BadInputIsOneLineExitTwoAndWritesNothing) {
  const std::pair<std::string, std::string> cases[] = {
      {"bench-op nope", "unknown op 'nope'"},
      {"bench-op linear m=-1", "m=-1 is out of range"},
      {"bench-op linear q=1", "unknown key 'q'"},
      {"bench-op linear m=abc", "m=abc is not an integer"},
      {"bench-op linear m", "'m' is not of the form key=value"},
      {"bench-op linear act=gelu", "act=gelu is not one of"},
      {"bench-op conv2d h=3 w=3 kh=7 kw=7 pad_h=0 pad_w=0", "kernel"},
      {"bench-op", "name an op"},
      {"bench-op --suite nope", "unknown --suite 'nope'"},
      {"bench-op linear --threads 0", "threads=0"},
      {"bench-op linear --threads two", "--threads"},
      {"device --threads 100000", "threads=100000"},
      {"frobnicate", "unknown command 'frobnicate'"},
      {"bench-op linear --policy slow", "--policy slow"},
      // The attention mixers' bad parameters the issue names, each with its value.
      {"bench-op window_attention c=96 heads=5", "heads=5"},
      {"bench-op mhsa c=96 heads=7", "heads=7"},
      {"bench-op neighborhood_attention kernel=6", "kernel=6"},
      {"bench-op neighborhood_attention h=5 w=5 kernel=7", "kernel=7"},
      {"bench-op neighborhood_attention h=20 w=20 kernel=7 dilation=3", "dilation=3"},
      {"bench-op window_attention window=7 shift=7", "shift=7"},
  };
  for (const auto& [args, message] : cases) {
    const Result r = hwnas(args + " --db " + db_);
    EXPECT_EQ(r.exit_code, 2) << args << "\n" << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << " printed: " << r.err;
    EXPECT_EQ(r.err.find("error: "), 0u) << args << " printed: " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << " printed: " << r.err;
    EXPECT_FALSE(fs::exists(db_)) << args << " created the database";
  }
}

TEST_F(CliTest, HelpOnEveryCommand) {
  for (const std::string command : {"", "device ", "bench-op "}) {
    const Result r = hwnas(command + "--help");
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.out.find("Usage"), std::string::npos) << command << r.out;
  }
}

TEST_F(CliTest, ListNamesEveryOpWithKeysAndRanges) {
  const Result r = hwnas("bench-op --list");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* op : {"linear", "matmul", "conv2d", "dwconv", "layer_norm", "batch_norm", "softmax", "eltwise",
                         "binary", "pool", "global_avg_pool", "permute", "mhsa", "window_attention",
                         "cswin_attention", "neighborhood_attention", "linear_attention", "single_head_attention",
                         "cascaded_group_attention", "channel_attention"}) {
    EXPECT_NE(r.out.find(std::string(op) + " "), std::string::npos) << op;
  }
  EXPECT_NE(r.out.find("default 3136"), std::string::npos);
  EXPECT_NE(r.out.find("{none, relu, gelu_erf"), std::string::npos);
}

// The issue's own example line, verbatim apart from the quick policy and the test database.
TEST_F(CliTest, WindowAttentionAsTheIssueWritesIt) {
  const Result r = hwnas(
      "bench-op window_attention h=56 w=56 c=96 heads=3 window=7 shift=3 --json --policy quick --threads 1 --db " + db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["key"].get<std::string>().rfind("window_attention:", 0), 0u) << j["key"];
  EXPECT_GT(j["median_ms"].get<double>(), 0.0);
  EXPECT_GT(j["gflops"].get<double>(), 0.0);
}

TEST_F(CliTest, DeviceJsonHasTheFingerprintKeysAndIsStored) {
  const Result r = hwnas("device --json --threads 1 --db " + db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"cpu_model", "isa", "cores", "threads", "memory_bytes", "onednn_version", "compiler",
                          "build_type", "gpus"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["threads"], 1);
  EXPECT_TRUE(j["gpus"].is_array());
  Store store = Store::open(db_);
  EXPECT_TRUE(store.device(1).has_value());
}

TEST_F(CliTest, BenchOpMeasuresStoresAndPrintsJson) {
  const Result r =
      hwnas("bench-op linear m=49 k=96 n=384 --threads 1 --policy quick --json --log-level warn --db " + db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key : {"median_ms", "p10_ms", "p90_ms", "cv", "samples", "flops", "bytes", "gflops", "gbps",
                          "roofline_fraction", "impl", "repro"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_EQ(j["key"], "linear:m=49,k=96,n=384,bias=1,act=none");
  EXPECT_EQ(j["flops"], 2.0 * 49 * 96 * 384);
  EXPECT_GT(j["median_ms"].get<double>(), 0.0);
  EXPECT_LE(j["p10_ms"].get<double>(), j["median_ms"].get<double>());
  EXPECT_GE(j["p90_ms"].get<double>(), j["median_ms"].get<double>());
  EXPECT_GT(j["roofline_fraction"].get<double>(), 0.0);
  EXPECT_EQ(j["repro"], "hwnas bench-op linear m=49 k=96 n=384 bias=1 act=none --threads 1");

  Store store = Store::open(db_);
  const std::int64_t run_id = j["run_id"];
  const auto run = store.run(run_id);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->status, RunStatus::Finished);
  const auto rows = store.measurements_for_run(run_id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].key, j["key"]);
  EXPECT_EQ(rows[0].n, j["samples"]);
  EXPECT_EQ(static_cast<std::int64_t>(rows[0].samples_ms.size()), rows[0].n);
  EXPECT_EQ(rows[0].median_ms, j["median_ms"]);
  EXPECT_EQ(rows[0].repro, j["repro"]);
  EXPECT_EQ(rows[0].impl, j["impl"]);
  const auto params = nlohmann::json::parse(rows[0].params_json);
  EXPECT_EQ(params, (nlohmann::json{
                        {"m", "49"}, {"k", "96"}, {"n", "384"}, {"bias", "1"}, {"act", "none"}}));
}

TEST_F(CliTest, DamagedDatabaseIsAClearErrorAndIsLeftAlone) {
  {
    std::ofstream garbage(db_);
    garbage << "this is not a database, just a text file that happens to be called t.db\n";
  }
  const auto before = fs::file_size(db_);
  const Result r = hwnas("device --db " + db_);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find(db_), std::string::npos) << r.err;
  EXPECT_EQ(fs::file_size(db_), before);
}

}  // namespace
}  // namespace hwnas

namespace hwnas {
namespace {

// A suite killed with SIGKILL mid-run: the database passes integrity_check, keeps every measurement
// committed before the kill, and the run reads 'unfinished' (not 'running', not lost).
TEST_F(CliTest, KilledSuiteKeepsCommittedRowsAndIsMarkedUnfinished) {
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    execl(HWNAS_BINARY, HWNAS_BINARY, "bench-op", "--suite", "backbone", "--policy", "quick", "--threads", "1",
          "--db", db_.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  // Wait until at least two measurements are committed, reading through a read-only connection.
  std::size_t seen = 0;
  std::int64_t run_id = 0;
  for (int attempt = 0; attempt < 1200 && seen < 2; ++attempt) {
    usleep(50'000);
    if (!fs::exists(db_)) continue;
    try {
      Store reader = Store::open(db_, {.mode = sqlite::OpenMode::ReadOnly});
      for (const RunRow& run : reader.runs()) {
        if (run.kind == "bench-op") {
          run_id = run.id;
          seen = reader.measurements_for_run(run.id).size();
        }
      }
    } catch (const IoError&) {  // the writer may still be creating the schema
    }
  }
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFSIGNALED(status)) << "the suite finished before it could be killed";
  ASSERT_GE(seen, 2u) << "no measurement was committed within 60 s";

  {
    sqlite::Database db = sqlite::Database::open(db_, {});
    EXPECT_EQ(db.query_text("PRAGMA integrity_check"), "ok");
  }
  Store store = Store::open(db_);  // a read-write open marks runs of dead processes
  const auto run = store.run(run_id);
  ASSERT_TRUE(run.has_value());
  EXPECT_EQ(run->status, RunStatus::Unfinished);
  EXPECT_GE(store.measurements_for_run(run_id).size(), seen);
}

}  // namespace
}  // namespace hwnas
