// Parity with a real peer (issue 5): the catalog's swin_t and convnext_t, given torchvision's
// weights, must reproduce torchvision's logits.
//
// tests/supernet/torchvision_parity.py builds torchvision's swin_t / convnext_tiny with every
// parameter re-randomised (so layer scales, position-bias tables and biases all matter), runs a
// fixed random batch [2, 3, 224, 224] and writes the weights under hwnas's names, the batch (NHWC)
// and the logits as safetensors. Here those weights are loaded into a store made for the catalog
// Arch (every name required, every shape exact), the Subnet runs the same batch, and
//
//     relative error = max_i |ours_i - torch_i| / max_i |torch_i|   over all 2 x 1000 logits
//
// must be <= 1e-4 (the bound for f32). Both sides round differently at every one of ~30
// layers (oneDNN vs OpenBLAS matmuls, their own softmax / GELU / LayerNorm); the measured error is
// printed so the margin is visible. A swapped weight, a transposed layout, a missing shift or mask
// moves the logits by far more than 1e-4 of their range, and so does a wrong eps in the stem's
// LayerNorm or in a ConvNeXt block's (the script scales the convs before them so that eps counts:
// 1e-5 for 1e-6 moves the logits by 3e-3 .. 1.5e-2). The eps of the downsample and head norms stays
// invisible (~2e-6): their inputs have O(1) variance.
//
// The peer is Debian's python3-torch + python3-torchvision for /usr/bin/python3 (scripts/setup
// installs them). Without it the test fails, saying so: parity is a requirement, not an option.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

#include "supernet/arch.hpp"
#include "supernet/safetensors.hpp"
#include "supernet/subnet.hpp"
#include "supernet/weight_store.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

namespace fs = std::filesystem;

constexpr char kPython[] = "/usr/bin/python3";
constexpr std::int64_t kBatch = 2;  // the script's batch and resolution
constexpr std::int64_t kResolution = 224;
constexpr double kMaxRelativeError = 1e-4;

struct Command {
  int exit_code = -1;
  std::string output;  // stdout and stderr together
};

// Runs a shell command (test constants and temp paths only) with its output captured in `log`.
Command run(const std::string& command, const fs::path& log) {
  const int status = std::system((command + " >" + log.string() + " 2>&1").c_str());
  std::ifstream in(log);
  std::stringstream text;
  text << in.rdbuf();
  return {.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1, .output = text.str()};
}

// A fresh directory under the system temp dir, removed with everything in it (~250 MB of
// safetensors per model).
class TempDir {
 public:
  TempDir() {
    std::string pattern = (fs::temp_directory_path() / "hwnas_parity_XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp failed: " + pattern);
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

Tensor read_one(const fs::path& path, const std::string& name) {
  SafetensorsFile file = read_safetensors(path.string());
  auto it = file.tensors.find(name);
  if (it == file.tensors.end()) throw std::runtime_error(path.string() + " has no tensor " + name);
  return std::move(it->second);
}

// catalog: supernet/catalog/<catalog>.json; torchvision: the builder's name in torchvision.models.
void expect_parity(const std::string& catalog, const std::string& torchvision) {
  const fs::path source = HWNAS_SOURCE_DIR;
  TempDir dir;

  const Command probe =
      run(std::string(kPython) + " -c 'import torch, torchvision'", dir.path() / "probe.log");
  ASSERT_EQ(probe.exit_code, 0)
      << kPython
      << " cannot import torch and torchvision, which the parity test needs as its peer: "
      << "run scripts/setup (it installs Debian's python3-torch, python3-torchvision and "
         "libopenblas0-openmp).\n"
      << probe.output;

  const fs::path script = source / "tests/supernet/torchvision_parity.py";
  const Command made = run(
      std::string(kPython) + " " + script.string() + " " + torchvision + " " + dir.path().string(),
      dir.path() / "script.log");
  ASSERT_EQ(made.exit_code, 0) << script << " failed:\n" << made.output;
  const std::size_t summary = made.output.rfind(torchvision + ": seed=");
  ASSERT_NE(summary, std::string::npos) << script << " printed no summary:\n" << made.output;
  std::printf("%s", made.output.substr(summary).c_str());

  const Arch arch = load_arch_file((source / "supernet/catalog" / (catalog + ".json")).string());
  WeightStore store = make_weight_store(arch, kResolution, /*seed=*/1);
  // Every name of the file declared at exactly its shape, and every weight the Arch needs present.
  store.load((dir.path() / (torchvision + ".safetensors")).string(), /*allow_missing=*/false);

  // The file holds exactly torchvision's parameters, so the store's size is torch's count; the
  // cost model's count must agree with it.
  std::printf("%s: params store %lld, cost model %.0f\n", catalog.c_str(),
              static_cast<long long>(store.numel()), arch_cost(arch, kResolution).params);
  EXPECT_EQ(arch_cost(arch, kResolution).params, static_cast<double>(store.numel()));

  const Engine engine = testing::test_engine();
  const Subnet net =
      Subnet::build(engine, arch, store, {.batch = kBatch, .resolution = kResolution});
  const Tensor images = read_one(dir.path() / (torchvision + "_input.safetensors"), "images");
  const Tensor expected = read_one(dir.path() / (torchvision + "_logits.safetensors"), "logits");
  ASSERT_EQ(images.shape(), net.input_shape());
  ASSERT_EQ(expected.shape(), net.output_shape());

  Tensor logits = Tensor::empty(net.output_shape());
  testing::poison(logits.view());
  net.forward(images.cview(), logits.view());

  double max_diff = 0, max_ref = 0;
  std::int64_t worst = 0;
  for (std::int64_t i = 0; i < expected.numel(); ++i) {
    const double diff = std::abs(static_cast<double>(logits.f32()[i]) - expected.f32()[i]);
    if (!(diff <= max_diff)) {  // NaN counts as worst
      max_diff = diff;
      worst = i;
    }
    max_ref = std::max(max_ref, std::abs(static_cast<double>(expected.f32()[i])));
  }
  const double relative = max_diff / max_ref;
  std::printf("%s vs torchvision %s: max|ours - torch| = %.3g, max|torch| = %.4g, relative %.3g\n",
              catalog.c_str(), torchvision.c_str(), max_diff, max_ref, relative);
  EXPECT_LE(relative, kMaxRelativeError)
      << catalog << ": worst logit [" << worst / expected.shape()[1] << ", "
      << worst % expected.shape()[1] << "] ours " << logits.f32()[worst] << " torch "
      << expected.f32()[worst] << " (max|torch| = " << max_ref << ")";
}

TEST(TorchvisionParity, SwinT) { expect_parity("swin_t", "swin_t"); }

TEST(TorchvisionParity, ConvnextT) { expect_parity("convnext_t", "convnext_tiny"); }

}  // namespace
}  // namespace hwnas
