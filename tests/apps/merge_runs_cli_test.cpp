// `hwnas merge` and `hwnas runs` through the real binary, on stores made by `hwnas bench-op`.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "store/store.hpp"
#include "tests/apps/cli_test_util.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;
using testing::CliResult;
using testing::run_hwnas_in;
using testing::ScratchDir;

constexpr std::string_view kNothingAdded =
    "devices=0 archs=0 runs=0 measurements=0 layer_times=0 generations=0 candidates=0 front_rows=0 "
    "quality_scores=0 claim_results=0 predictor_points=0";

class MergeRunsCli : public ::testing::Test {
 protected:
  // Two stores made once for the suite (each bench-op also measures the device's roofline once) and
  // copied into every test's directory.
  static void SetUpTestSuite() {
    sources_ = new ScratchDirHolder;
    const fs::path& dir = sources_->path;
    for (const auto& [db, op] : {std::pair{"a.db", "linear m=64 k=32 n=48"},
                                 std::pair{"b.db", "layer_norm rows=96 c=32"}}) {
      const CliResult r =
          run_hwnas_in(std::string("bench-op ") + op + " --policy quick --threads 1 --db " + db +
                           " --log-level error",
                       dir);
      ASSERT_EQ(r.exit_code, 0) << r.err;
    }
  }
  static void TearDownTestSuite() {
    delete sources_;
    sources_ = nullptr;
  }
  void SetUp() override {
    for (const char* db : {"a.db", "b.db"}) fs::copy_file(sources_->path / db, dir_.path() / db);
  }
  CliResult hwnas(const std::string& args) {
    return run_hwnas_in(args + " --log-level error", dir_.path());
  }
  std::string file(const char* name) const { return (dir_.path() / name).string(); }

  struct ScratchDirHolder {
    ScratchDirHolder()
        : path(fs::temp_directory_path() / ("hwnas_merge_cli_" + std::to_string(getpid()))) {
      fs::remove_all(path);
      fs::create_directories(path);
    }
    ~ScratchDirHolder() {
      std::error_code ignored;
      fs::remove_all(path, ignored);
    }
    fs::path path;
  };
  static inline ScratchDirHolder* sources_ = nullptr;
  ScratchDir dir_;
};

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    lines.push_back(text.substr(start, end - start));
  }
  return lines;
}

TEST_F(MergeRunsCli, MergeFoldsStoresAndASecondMergeAddsNothing) {
  CliResult r = hwnas("merge a.db b.db -o out.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 2u) << r.out;
  // Both were made on this machine: one device, brought by the first.
  EXPECT_EQ(lines[0],
            "a.db: devices=1 archs=0 runs=2 measurements=1 layer_times=0 generations=0 "
            "candidates=0 front_rows=0 quality_scores=0 claim_results=0 predictor_points=0");
  EXPECT_EQ(lines[1],
            "b.db: devices=0 archs=0 runs=2 measurements=1 layer_times=0 generations=0 "
            "candidates=0 front_rows=0 quality_scores=0 claim_results=0 predictor_points=0");
  r = hwnas("merge a.db b.db -o out.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, fmt::format("a.db: {0}\nb.db: {0}\n", kNothingAdded));

  Store out = Store::open(file("out.db"), {.mode = sqlite::OpenMode::ReadOnly});
  std::vector<std::string> keys;
  for (const RunRow& run : out.runs()) {
    for (const MeasurementRow& m : out.measurements_for_run(run.id)) keys.push_back(m.key);
  }
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].rfind("linear:m=64,k=32,n=48", 0), 0u) << keys[0];
  EXPECT_EQ(keys[1].rfind("layer_norm:rows=96,c=32", 0), 0u) << keys[1];
}

TEST_F(MergeRunsCli, MergeIntoOneOfTheStores) {
  const CliResult r = hwnas("merge b.db -o a.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "b.db: devices=0 archs=0 runs=2 measurements=1 layer_times=0 generations=0 "
            "candidates=0 front_rows=0 quality_scores=0 claim_results=0 predictor_points=0\n");
  EXPECT_EQ(Store::open(file("a.db")).runs().size(), 4u);
}

TEST_F(MergeRunsCli, RunsListsEveryRunWithItsSummary) {
  CliResult r = hwnas("runs --db a.db");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::vector<std::string> lines = lines_of(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;  // header, the roofline run, the bench-op run
  EXPECT_NE(lines[0].find("id  kind      status      started"), std::string::npos) << lines[0];
  EXPECT_NE(lines[1].find("roofline  finished"), std::string::npos) << lines[1];
  EXPECT_NE(lines[1].find("peak_gflops="), std::string::npos) << lines[1];
  EXPECT_NE(lines[2].find("bench-op  finished"), std::string::npos) << lines[2];
  EXPECT_NE(lines[2].find("linear m=64 k=32 n=48 threads=1 measurements=1"), std::string::npos)
      << lines[2];

  r = hwnas("runs --db a.db --json --kind bench-op");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const nlohmann::json runs = nlohmann::json::parse(r.out);
  ASSERT_EQ(runs.size(), 1u);
  const nlohmann::json& run = runs[0];
  for (const char* key : {"id", "uid", "kind", "status", "started_at", "finished_at", "config",
                          "summary", "measurements", "generations"}) {
    EXPECT_TRUE(run.contains(key)) << key;
  }
  EXPECT_EQ(run["kind"], "bench-op");
  EXPECT_EQ(run["status"], "finished");
  EXPECT_EQ(run["uid"].get<std::string>().size(), 32u);
  EXPECT_EQ(run["config"]["policy"], "quick");  // the config itself, parsed
  EXPECT_EQ(run["measurements"], 1);
  EXPECT_EQ(run["generations"], 0);

  r = hwnas("runs --db a.db --kind search");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "no runs of kind search in a.db\n");
  r = hwnas("runs --db a.db --kind search --json");
  EXPECT_EQ(nlohmann::json::parse(r.out), nlohmann::json::array());
}

TEST_F(MergeRunsCli, BadInputIsExitTwoNamingTheProblemAndWritesNothing) {
  {
    std::ofstream text(file("text.db"));
    for (int i = 0; i < 100; ++i) text << "not a database\n";
  }
  fs::copy_file(file("b.db"), file("newer.db"));
  const int newer = latest_schema_version() + 1;
  sqlite::Database::open(file("newer.db")).exec(fmt::format("PRAGMA user_version = {}", newer));
  const std::pair<std::string, std::string> cases[] = {
      {"merge a.db missing.db -o out.db", "merge: no database at missing.db"},
      {"merge a.db text.db -o out.db", "merge: source text.db: not an hwnas database: text.db"},
      {"merge a.db b.db -o b.db", "merge: b.db is both a source and -o"},
      {"merge a.db newer.db -o out.db",
       fmt::format("merge: source newer.db: database schema version {} is newer", newer)},
      {"merge a.db", "--out is required"},
      {"merge -o out.db", "sources is required"},
      {"runs --db missing.db", "runs: no database at missing.db"},
  };
  for (const auto& [args, message] : cases) {
    const CliResult r = hwnas(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.err;
    EXPECT_NE(r.err.find(message), std::string::npos) << args << ": " << r.err;
    EXPECT_FALSE(fs::exists(file("missing.db"))) << args;
  }
  EXPECT_FALSE(fs::exists(file("out.db")));
}

}  // namespace
}  // namespace hwnas
