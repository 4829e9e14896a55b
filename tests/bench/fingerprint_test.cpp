#include "bench/fingerprint.hpp"

#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <unistd.h>

#include "bench/build_info.hpp"
#include "kernels/error.hpp"

namespace hwnas {
namespace {

Fingerprint hand_made() {
  return {.cpu_model = "AMD EPYC 9655 96-Core Processor",
          .isa = "avx512_core_bf16",
          .cores = 96,
          .memory_bytes = std::int64_t{768} << 30,
          .l1d_bytes = 48 << 10,
          .l2_bytes = 1 << 20,
          .l3_bytes = 32 << 20,
          .gpus = {"NVIDIA H100 80GB HBM3", "NVIDIA H100 80GB HBM3"},
          .hostname = "node17",
          .os = "Linux 6.1.0-18-amd64 x86_64",
          .threads = 8,
          .affinity = "0-7",
          .governor = "performance",
          .onednn_version = "3.2.0 (abc)",
          .onednn_source = "pypi",
          .compiler = "GNU 12.2.0",
          .build_flags = "-O3 -DNDEBUG",
          .build_type = "Release",
          .code_version = "0123456789ab"};
}

template <typename Error>
void expect_error(std::string_view json, const std::string& text) {
  try {
    fingerprint_from_json(json);
    FAIL() << "expected an error containing " << text;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(Fingerprint, CollectsThisMachine) {
  const Engine engine = Engine::cpu({.threads = 1});
  const Fingerprint fp = collect_fingerprint(engine);
  EXPECT_FALSE(fp.cpu_model.empty());
  EXPECT_EQ(fp.isa, engine.isa());
  EXPECT_GE(fp.cores, 1);
  EXPECT_EQ(fp.threads, 1);
  EXPECT_GT(fp.memory_bytes, 0);
  EXPECT_EQ(std::ssize(parse_cpu_list(fp.affinity)), available_processors());
  EXPECT_FALSE(fp.governor.empty());
  EXPECT_EQ(fp.onednn_version, onednn_version());
  EXPECT_TRUE(fp.onednn_source == "pypi" || fp.onednn_source == "system") << fp.onednn_source;
  EXPECT_EQ(fp.compiler, build_info().compiler);
  EXPECT_FALSE(fp.compiler.empty());
  EXPECT_FALSE(fp.code_version.empty());
  EXPECT_FALSE(fp.hostname.empty());
  EXPECT_FALSE(fp.os.empty());
  EXPECT_GE(fp.l2_bytes, 0);
  for (const std::string& gpu : fp.gpus) EXPECT_FALSE(gpu.empty());
  // The real fingerprint survives its own JSON.
  EXPECT_EQ(fingerprint_from_json(fingerprint_to_json(fp)), fp);
}

TEST(Fingerprint, BuildInfoComesFromCMake) {
  const BuildInfo& b = build_info();
  EXPECT_NE(b.compiler, "unknown");
  EXPECT_NE(b.code_version, "");
#ifdef NDEBUG
  EXPECT_NE(b.build_type, "Debug");
#endif
}

TEST(Fingerprint, JsonRoundTrips) {
  const Fingerprint fp = hand_made();
  const std::string json = fingerprint_to_json(fp);
  for (const char* key : {"cpu_model", "isa", "cores", "threads", "memory_bytes", "onednn_version", "compiler",
                          "build_type", "gpus", "affinity", "governor", "code_version", "l3_bytes"}) {
    EXPECT_NE(json.find(fmt::format("\"{}\":", key)), std::string::npos) << key << " missing from " << json;
  }
  EXPECT_EQ(fingerprint_from_json(json), fp);
}

TEST(Fingerprint, JsonErrorsNameTheKey) {
  std::string json = fingerprint_to_json(hand_made());
  expect_error<IoError>("{\"cpu_model\": ", "fingerprint: not valid JSON");
  expect_error<InvalidArgument>("[1, 2]", "expected a JSON object, got array");
  // Missing key.
  const auto without_cores = [&] {
    std::string j = json;
    const auto at = j.find("\"cores\":96,");
    j.erase(at, std::string("\"cores\":96,").size());
    return j;
  }();
  expect_error<InvalidArgument>(without_cores, "missing key /cores");
  // Unknown key (a typo is an error, not silently ignored).
  std::string typo = json;
  typo.insert(1, "\"coers\":4,");
  expect_error<InvalidArgument>(typo, "unknown key /coers");
  // Wrong types.
  std::string bad_cores = json;
  bad_cores.replace(bad_cores.find("\"cores\":96"), 10, "\"cores\":\"96\"");
  expect_error<InvalidArgument>(bad_cores, "/cores must be an integer, got \"96\"");
  std::string bad_gpu = json;
  bad_gpu.replace(bad_gpu.find("\"NVIDIA H100 80GB HBM3\"]"), 24, "7]");
  expect_error<InvalidArgument>(bad_gpu, "/gpus/1 must be a string, got 7");
}

TEST(Fingerprint, DeviceKeyIsStableAndHardwareOnly) {
  const Fingerprint fp = hand_made();
  // Pinned: the store keys devices by it, so a change here orphans every stored device. The value is
  // FNV-1a 64 of "cpu_model=...\ncores=96\nmemory_gib=768\nhostname=node17\ngpu=...\ngpu=...\n",
  // computed independently in Python.
  EXPECT_EQ(device_key(fp), "6c947f93ef4e4039");
  // Software and run settings do not change the device.
  Fingerprint sw = fp;
  sw.compiler = "Clang 17";
  sw.onednn_version = "2.6.3";
  sw.onednn_source = "system";
  sw.code_version = "fedcba987654-dirty";
  sw.threads = 1;
  sw.affinity = "0";
  sw.governor = "powersave";
  sw.build_type = "Debug";
  sw.isa = "avx2";
  sw.memory_bytes += 37 << 20;  // a new kernel reserving a little more
  EXPECT_EQ(device_key(sw), device_key(fp));
  // Hardware does.
  for (auto change : std::initializer_list<void (*)(Fingerprint&)>{
           [](Fingerprint& f) { f.cpu_model = "AMD EPYC 9654"; },
           [](Fingerprint& f) { f.cores = 48; },
           [](Fingerprint& f) { f.memory_bytes = std::int64_t{512} << 30; },
           [](Fingerprint& f) { f.gpus.pop_back(); },
           [](Fingerprint& f) { f.hostname = "node18"; }}) {
    Fingerprint hw = fp;
    change(hw);
    EXPECT_NE(device_key(hw), device_key(fp));
  }
  EXPECT_EQ(device_key(fp).size(), 16u);
}

TEST(Fingerprint, Warnings) {
  Fingerprint fp = hand_made();
  EXPECT_TRUE(warnings(fp).empty());
  const auto has = [](const std::vector<std::string>& w, const std::string& text) {
    return std::any_of(w.begin(), w.end(), [&](const std::string& s) { return s.find(text) != std::string::npos; });
  };
  fp.build_type = "Debug";
  EXPECT_TRUE(has(warnings(fp), "build_type=Debug: not an optimised build"));
  fp.build_type = "";
  EXPECT_TRUE(has(warnings(fp), "build_type=(none)"));
  fp = hand_made();
  fp.governor = "powersave";
  EXPECT_TRUE(has(warnings(fp), "governor=powersave"));
  fp.governor = "unknown";
  EXPECT_TRUE(has(warnings(fp), "governor=unknown: cpufreq is not exposed"));
  fp = hand_made();
  fp.threads = 192;
  EXPECT_TRUE(has(warnings(fp), "threads=192 > cores=96"));
  fp = hand_made();
  fp.build_flags = "-O1 -fsanitize=address,undefined";
  EXPECT_TRUE(has(warnings(fp), "-fsanitize"));
}

TEST(Fingerprint, CpuLists) {
  EXPECT_EQ(format_cpu_list(std::vector<int>{0, 1, 2, 5}), "0-2,5");
  EXPECT_EQ(format_cpu_list(std::vector<int>{7, 3, 4, 3}), "3-4,7");
  EXPECT_EQ(format_cpu_list(std::vector<int>{4}), "4");
  EXPECT_EQ(format_cpu_list(std::vector<int>{}), "");
  EXPECT_EQ(parse_cpu_list("0-2,5\n"), (std::vector<int>{0, 1, 2, 5}));
  EXPECT_EQ(parse_cpu_list("3"), (std::vector<int>{3}));
  for (const char* bad : {"", "3-1", "a", "1,", "-2", "0-"}) {
    EXPECT_THROW(parse_cpu_list(bad), InvalidArgument) << bad;
  }
  try {
    parse_cpu_list("0-3,x");
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("CPU list '0-3,x' has a bad item 'x'"), std::string::npos) << e.what();
  }
}

TEST(Fingerprint, CacheSizes) {
  EXPECT_EQ(parse_cache_size("48K"), 48 << 10);
  EXPECT_EQ(parse_cache_size("1024K\n"), 1 << 20);
  EXPECT_EQ(parse_cache_size("32M"), 32 << 20);
  EXPECT_EQ(parse_cache_size("512"), 512);
  EXPECT_EQ(parse_cache_size("K"), -1);
  EXPECT_EQ(parse_cache_size("big"), -1);
  EXPECT_EQ(parse_cache_size(""), -1);
}

TEST(Fingerprint, GpuListFromNvidiaSmi) {
  // The format of `nvidia-smi -L`, with a MIG-partitioned second GPU.
  const std::string out =
      "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-5e1c7a36-0000-0000-0000-000000000000)\n"
      "GPU 1: NVIDIA A100-SXM4-40GB (UUID: GPU-00000000-1111-2222-3333-444444444444)\n"
      "  MIG 1g.5gb      Device  0: (UUID: MIG-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee)\n";
  EXPECT_EQ(parse_gpu_list(out), (std::vector<std::string>{"NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB"}));
  EXPECT_TRUE(parse_gpu_list("").empty());
  EXPECT_TRUE(parse_gpu_list("NVIDIA-SMI has failed because it couldn't communicate with the driver.\n").empty());
}

// list_gpus against a fake nvidia-smi put first on PATH: its output is parsed, a failing one gives
// no GPUs, and a hung one is killed at the timeout.
class FakeNvidiaSmi : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           fmt::format("hwnas_fake_smi_{}_{}", ::getpid(), ::testing::UnitTest::GetInstance()->random_seed());
    std::filesystem::create_directories(dir_);
    old_path_ = std::getenv("PATH") ? std::getenv("PATH") : "";
    setenv("PATH", (dir_.string() + ":" + old_path_).c_str(), 1);
  }
  void TearDown() override {
    setenv("PATH", old_path_.c_str(), 1);
    std::filesystem::remove_all(dir_);
  }
  void install(const std::string& body) {
    const auto path = dir_ / "nvidia-smi";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
  }
  std::filesystem::path dir_;
  std::string old_path_;
};

TEST_F(FakeNvidiaSmi, ListsTheGpus) {
  install("[ \"$1\" = -L ] || exit 3\n"
          "echo 'GPU 0: NVIDIA H200 (UUID: GPU-0)'\n"
          "echo 'GPU 1: NVIDIA H200 (UUID: GPU-1)'\n"
          "echo 'noise on stderr' >&2");
  EXPECT_EQ(list_gpus(), (std::vector<std::string>{"NVIDIA H200", "NVIDIA H200"}));
}

TEST_F(FakeNvidiaSmi, FailureMeansNoGpus) {
  install("echo 'GPU 0: NVIDIA H200 (UUID: GPU-0)'\nexit 9");
  EXPECT_TRUE(list_gpus().empty());
}

TEST_F(FakeNvidiaSmi, HungIsKilledAtTheTimeout) {
  install("exec sleep 30");
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(list_gpus(std::chrono::milliseconds(200)).empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

}  // namespace
}  // namespace hwnas
