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

// Runs `hwnas args` with stdout and stderr captured to files (the arguments are test constants);
// `env` ("NAME=value ...") is set for the child only.
Result run_hwnas(const std::string& args, const fs::path& dir, const std::string& env = "") {
  const fs::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string command = env + " " + std::string(HWNAS_BINARY) + " " + args + " >" +
                              out.string() + " 2>" + err.string();
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
  Result hwnas(const std::string& args, const std::string& env = "") {
    return run_hwnas(args, dir_, env);
  }

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
  for (const std::string command : {"", "device ", "bench-op ", "bench "}) {
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

namespace hwnas {
namespace {

// A two-stage network small enough to time in milliseconds at --res 40: a patch-embed stem, a Swin
// block with shifted 3x3 windows that pad (10x10 map), a pre-norm conv downsample and a ConvNeXt
// block with layer scale, a 10-class head. Its parameters, counted by hand: stem 16*3*16+16 + LN 32
// = 816; Swin block LN 32 + qkv 16*48+48 + proj 16*16+16 + table 5*5*2 + LN 32 + MLP 16*32+32 +
// 32*16+16 = 2274; downsample LN 32 + conv 24*16*4+24 = 1592; ConvNeXt block dwconv 24*9+24 + LN 48
// + MLP 24*48+48 + 48*24+24 + gamma 24 = 2688; head LN 48 + fc 24*10+10 = 298. Sum 7668.
constexpr std::string_view kTinyArch = R"({"name": "tiny",
 "stem": {"convs": [{"out": 16, "kernel": 4, "stride": 4}], "norm": {"norm": "ln"}},
 "stages": [
  {"width": 16, "blocks": [
    {"frame": "metaformer", "norm": {"norm": "ln"},
     "mixer": {"mixer": "window_attention", "heads": 2, "window": 3, "shift": 1},
     "mlp": {"mlp": "mlp", "ratio": 2, "act": "gelu_erf"}}]},
  {"width": 24, "downsample": {"downsample": "conv", "kernel": 2, "norm": {"norm": "ln"}, "norm_place": "pre"},
   "blocks": [
    {"frame": "metanext", "mixer": {"mixer": "dwconv", "k": 3}, "norm": {"norm": "ln"},
     "mlp": {"mlp": "mlp", "ratio": 2, "act": "gelu_erf"}, "scale": "layer_scale"}]}],
 "head": {"norm": {"norm": "ln"}, "norm_place": "before_pool", "num_classes": 10}})";
constexpr double kTinyParams = 7668;

class BenchCliTest : public CliTest {
 protected:
  std::string write(const std::string& name, std::string_view text) {
    const fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }
  std::string tiny() { return write("tiny.json", kTinyArch); }
};

bool is_hex16(const std::string& s) {
  return s.size() == 16 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

TEST_F(BenchCliTest, JsonHasTheIssuesFieldsAndTheStoreHasTheMeasurementAndTheArch) {
  const Result r = hwnas("bench " + tiny() +
                         " --res 40 --batch 3 --policy quick --json --threads 1 --log-level warn "
                         "--db " +
                         db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  for (const char* key :
       {"median_ms", "p10_ms", "p90_ms", "cv", "params", "flops", "arch_hash", "key", "samples",
        "gflops", "images_per_s", "run_id", "measurement_id", "repro"}) {
    EXPECT_TRUE(j.contains(key)) << key;
  }
  EXPECT_FALSE(j.contains("layers"));
  const std::string hash = j["arch_hash"];
  EXPECT_TRUE(is_hex16(hash)) << hash;
  EXPECT_EQ(j["key"], "arch:" + hash + ",batch=3,res=40");
  EXPECT_EQ(j["name"], "tiny");
  EXPECT_EQ(j["params"].get<double>(), kTinyParams);
  const double median = j["median_ms"];
  EXPECT_GT(median, 0.0);
  EXPECT_LE(j["p10_ms"].get<double>(), median);
  EXPECT_GE(j["p90_ms"].get<double>(), median);
  EXPECT_GE(j["cv"].get<double>(), 0.0);
  EXPECT_GT(j["flops_per_image"].get<double>(), 0.0);
  EXPECT_DOUBLE_EQ(j["flops"].get<double>(), 3 * j["flops_per_image"].get<double>());
  EXPECT_DOUBLE_EQ(j["images_per_s"].get<double>(), 3 / (median / 1e3));
  EXPECT_DOUBLE_EQ(j["gflops"].get<double>(), j["flops"].get<double>() / (median * 1e6));
  EXPECT_EQ(j["repro"],
            "hwnas bench " + (dir_ / "tiny.json").string() + " --batch 3 --res 40 --threads 1");

  Store store = Store::open(db_);
  const std::int64_t run_id = j["run_id"];
  EXPECT_EQ(store.run(run_id)->status, RunStatus::Finished);
  EXPECT_EQ(store.run(run_id)->kind, "bench");
  const auto rows = store.measurements_for_run(run_id);
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].id, j["measurement_id"]);
  EXPECT_EQ(rows[0].kind, MeasurementKind::Arch);
  EXPECT_EQ(rows[0].key, j["key"]);
  EXPECT_EQ(rows[0].arch_hash, hash);
  EXPECT_EQ(rows[0].batch, 3);
  EXPECT_EQ(rows[0].threads, 1);
  EXPECT_EQ(rows[0].median_ms, median);
  EXPECT_EQ(rows[0].flops, j["flops"]);
  EXPECT_EQ(rows[0].n, j["samples"]);
  const auto params = nlohmann::json::parse(rows[0].params_json);
  EXPECT_EQ(params["name"], "tiny");
  EXPECT_EQ(params["arch_hash"], hash);
  EXPECT_EQ(params["res"], 40);
  const auto arch = store.arch(hash);
  ASSERT_TRUE(arch.has_value());
  EXPECT_EQ(arch->name, "tiny");
  EXPECT_EQ(nlohmann::json::parse(arch->canonical_json)["stages"].size(), 2u);
  EXPECT_TRUE(store.layer_times(rows[0].id).empty());
}

TEST_F(BenchCliTest, LayersAreTimedPrintedAndStored) {
  const Result r =
      hwnas("bench " + tiny() +
            " --res 40 --policy quick --json --layers --threads 1 --log-level warn --db " + db_);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto j = nlohmann::json::parse(r.out);
  ASSERT_TRUE(j.contains("layers"));
  const auto& layers = j["layers"];
  ASSERT_GE(layers.size(), 10u);  // stem, 2 units of norm/mixer/mlp (+ residual), downsample, head
  double share = 0, flops = 0;
  for (const auto& layer : layers) {
    for (const char* key : {"name", "kind", "key", "median_ms", "share", "flops", "gflops"}) {
      EXPECT_TRUE(layer.contains(key)) << key << " in " << layer.dump();
    }
    EXPECT_GT(layer["median_ms"].get<double>(), 0.0) << layer["name"];
    share += layer["share"].get<double>();
    flops += layer["flops"].get<double>();
  }
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_DOUBLE_EQ(flops, j["flops"].get<double>());
  EXPECT_EQ(layers[0]["name"], "stem");
  EXPECT_EQ(layers[layers.size() - 1]["kind"], "head");

  Store store = Store::open(db_);
  const auto stored = store.layer_times(j["measurement_id"]);
  ASSERT_EQ(stored.size(), layers.size());
  for (std::size_t i = 0; i < stored.size(); ++i) {
    EXPECT_EQ(stored[i].idx, static_cast<std::int64_t>(i));
    EXPECT_EQ(stored[i].name, layers[i]["name"]);
    EXPECT_EQ(stored[i].key, layers[i]["key"]);
    EXPECT_EQ(stored[i].median_ms, layers[i]["median_ms"]);
    EXPECT_EQ(static_cast<std::int64_t>(stored[i].samples_ms.size()), stored[i].n);
  }
  // A breakdown is a long run: it carries a drift check.
  EXPECT_TRUE(store.run(j["run_id"])->drift.has_value());

  // The human form: one summary line, then the table.
  const Result human = hwnas("bench " + tiny() +
                             " --res 40 --policy quick --layers --throughput --threads 1 "
                             "--log-level warn --db " +
                             db_);
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_EQ(human.out.rfind(
                "tiny [" + j["arch_hash"].get<std::string>() + "] batch 1 res 40 threads 1: ", 0),
            0u)
      << human.out;
  EXPECT_NE(human.out.find("images/s"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("stages.0.blocks.0.0.mixer"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("window_attention:n=1,h=10,w=10,c=16"), std::string::npos) << human.out;
}

TEST_F(BenchCliTest, CatalogNamesResolve) {
  // An environment variable points the catalog elsewhere; the name is the file's stem.
  fs::create_directories(dir_ / "catalog");
  std::ofstream(dir_ / "catalog" / "mini.json") << kTinyArch;
  const Result r =
      hwnas("bench mini --res 40 --policy quick --json --threads 1 --log-level warn --db " + db_,
            "HWNAS_CATALOG_DIR=" + (dir_ / "catalog").string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out)["params"].get<double>(), kTinyParams);
}

TEST_F(BenchCliTest, BadInputIsOneLineExitTwoAndWritesNothing) {
  const std::string tiny_path = tiny();
  const std::string bad_json = write("broken.json", "{\"name\": \"x\", \"stages\": [");
  std::string heads(kTinyArch);
  heads.replace(heads.find("\"heads\": 2"), 10, "\"heads\": 5");
  const std::string bad_heads = write("heads5.json", heads);
  std::string key(kTinyArch);
  key.replace(key.find("\"ratio\": 2"), 10, "\"ratoi\": 2");
  const std::string bad_key = write("typo.json", key);
  const std::pair<std::string, std::string> cases[] = {
      {"bench no_such_model", "unknown architecture 'no_such_model'"},
      {"bench no_such_model", "swin_t"},  // the catalog's names are listed
      {"bench " + bad_json, bad_json},
      {"bench " + bad_json, "malformed JSON"},
      {"bench " + bad_heads, "heads=5"},
      {"bench " + bad_heads, bad_heads},
      {"bench " + bad_key, "ratoi"},
      {"bench " + (dir_ / "absent.json").string(), "absent.json: no such file"},
      {"bench " + tiny_path + " --res 0", "res=0 must be >= 1"},
      {"bench " + tiny_path + " --res 5",
       "stages[1].downsample: kernel=2 is larger than the padded map"},
      {"bench " + tiny_path + " --batch 0", "batch=0 must be >= 1"},
      {"bench " + tiny_path + " --policy slow", "--policy slow"},
      {"bench " + tiny_path + " --weights " + bad_json, bad_json},
      {"bench", "arch is required"},
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

}  // namespace
}  // namespace hwnas
