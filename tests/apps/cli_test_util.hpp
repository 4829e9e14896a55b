// Running the real hwnas binary in a child process, for CLI tests (the style of cli_test.cpp):
// stdout and stderr captured, a scratch directory per test.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace hwnas::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// Runs `hwnas args` in `dir` (the arguments are test constants) with stdout and stderr captured.
inline CliResult run_hwnas_in(const std::string& args, const std::filesystem::path& dir) {
  const std::filesystem::path out = dir / "stdout.txt", err = dir / "stderr.txt";
  const std::string command = "cd " + dir.string() + " && " + std::string(HWNAS_BINARY) + " " +
                              args + " >" + out.string() + " 2>" + err.string();
  const int status = std::system(command.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  const auto slurp = [](const std::filesystem::path& p) {
    std::ifstream in(p);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  };
  r.out = slurp(out);
  r.err = slurp(err);
  return r;
}

// A search space for CLI tests (search, lut): 2 x 2 x 2 x 3-ish mixers per block in stage 0, two in
// stage 1: 1728 subnets, each runs in well under a millisecond at 32x32.
inline constexpr std::string_view kTinySpace = R"({
  "name": "tiny", "resolutions": [32],
  "stems": [{"convs": [{"kernel": 4, "stride": 4}], "norm": {"norm": "ln"}}],
  "frame": "metaformer", "norm": {"norm": "ln"}, "mlp": {"mlp": "mlp", "act": "gelu_erf"},
  "layer_scale": true,
  "stages": [
    {"depths": [1, 2], "widths": [16, 32], "mlp_ratios": [2, 4],
     "mixers": [{"mixer": "dwconv", "k": [3, 5]}, {"mixer": "pool_mixer"},
                {"mixer": "window_attention", "window": [4], "head_dim": [16]}]},
    {"depths": [1, 2], "widths": [32, 48], "mlp_ratios": [2],
     "downsample": {"downsample": "conv", "kernel": 2, "stride": 2, "norm": {"norm": "ln"},
                    "norm_place": "post"},
     "mixers": [{"mixer": "dwconv", "k": [3]}, {"mixer": "mhsa", "head_dim": [16]}]}],
  "head": {"norm": {"norm": "ln"}, "norm_place": "before_pool", "num_classes": 10}})";

// Starts `hwnas args...` in a child process with stdout and stderr to /dev/null and returns its pid
// (negative when fork failed); the caller signals and waits for it.
inline pid_t spawn_hwnas(std::vector<std::string> args) {
  args.insert(args.begin(), HWNAS_BINARY);
  const pid_t pid = fork();
  if (pid == 0) {
    const int null = ::open("/dev/null", O_WRONLY);
    dup2(null, STDOUT_FILENO);
    dup2(null, STDERR_FILENO);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(HWNAS_BINARY, argv.data());
    _exit(127);
  }
  return pid;
}

// A fresh directory named after the test, removed with everything in it.
class ScratchDir {
 public:
  ScratchDir() {
    path_ = std::filesystem::temp_directory_path() /
            ("hwnas_cli_" + std::to_string(getpid()) + "_" +
             ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

}  // namespace hwnas::testing
