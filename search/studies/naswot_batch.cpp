// The study behind NaswotSetup's default proxy batch (a measurement, so not a test): the time of
// one NASWOT evaluation (build + observed forward + kernel + log det) at 224 for a swin_t-sized and
// a small subnet of the default space at batch 16 / 32 / 64, and Kendall's tau between the scores
// of random subnets at each batch and at batch 64 (and against their MACs).
//
//   build/release/search/hwnas_naswot_study            # HWNAS_THREADS=2 HWNAS_SUBNETS=15
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "search/genome.hpp"
#include "search/naswot.hpp"
#include "search/predictor_error.hpp"
#include "supernet/subnet.hpp"

namespace hwnas {
namespace {

Arch uniform_arch(const SearchSpace& space, const std::vector<std::int64_t>& widths,
                  const std::vector<std::int64_t>& depths, const std::string& mixer, double ratio) {
  Arch arch = largest_arch(space);
  for (std::size_t s = 0; s < 4; ++s) {
    arch.stages[s].width = widths[s];
    arch.stages[s].blocks.clear();
    const std::vector<MixerSpec> options = mixer_options(space, s, widths[s]);
    std::vector<MixerSpec> of_kind;
    for (const MixerSpec& m : options) {
      if (m.name == mixer) of_kind.push_back(m);
    }
    for (std::int64_t b = 0; b < depths[s]; ++b) {
      // Swin alternates unshifted and shifted windows.
      arch.stages[s].blocks.push_back(
          make_block(space, of_kind[static_cast<std::size_t>(b) % of_kind.size()], ratio));
    }
  }
  arch.stem.convs.back().out = widths[0];
  return arch;
}

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace
}  // namespace hwnas

int main() {
  using namespace hwnas;
  const SearchSpace space =
      load_search_space_file(std::string(HWNAS_SOURCE_DIR) + "/supernet/spaces/default.json");
  const int threads = std::getenv("HWNAS_THREADS") ? std::atoi(std::getenv("HWNAS_THREADS")) : 2;
  const Engine engine = Engine::cpu({.threads = threads});
  auto t0 = std::chrono::steady_clock::now();
  const WeightStore shared = make_shared_weights(space, 1);
  std::cout << "shared store: " << shared.numel() << " weights, " << seconds_since(t0) << " s\n";
  const std::vector<std::int64_t> batches = {16, 32, 64};
  std::vector<NaswotEvaluator> evals;
  for (const std::int64_t b : batches) {
    evals.emplace_back(engine, space, shared,
                       load_proxy_batch({.resolution = 224, .batch = b}, space.in_chans), 224);
  }
  const Arch swin = uniform_arch(space, {96, 192, 384, 768}, {2, 2, 6, 2}, "window_attention", 4);
  const Arch small = uniform_arch(space, {48, 96, 192, 384}, {1, 1, 2, 1}, "dwconv", 2);
  for (const auto& [name, arch] : {std::pair{"swin_t-sized", swin}, std::pair{"small", small}}) {
    const ArchCost cost = arch_cost(arch, 224);
    for (std::size_t i = 0; i < batches.size(); ++i) {
      evals[i].evaluate(arch);  // warm: oneDNN's primitive cache, first-touch of the buffers
      t0 = std::chrono::steady_clock::now();
      const double score = evals[i].evaluate(arch).value;
      const double eval_s = seconds_since(t0);
      // Where the time goes: building the subnet (slicing the store, preparing plans) and the
      // plain forward; the rest of eval_s is the observed forward's packing and counting.
      t0 = std::chrono::steady_clock::now();
      const Subnet net =
          Subnet::build(engine, arch, shared, {.batch = batches[i], .resolution = 224});
      const double build_s = seconds_since(t0);
      Tensor logits = Tensor::empty(net.output_shape());
      const Tensor images = Tensor::zeros(net.input_shape());
      net.forward(images.cview(), logits.view());
      t0 = std::chrono::steady_clock::now();
      net.forward(images.cview(), logits.view());
      const double forward_s = seconds_since(t0);
      std::cout << "" << name << " (" << cost.params / 1e6 << " M params, " << cost.flops / 2e9
                << " GMACs) batch=" << batches[i] << " threads=" << threads << " eval_s=" << eval_s
                << " (build_s=" << build_s << " forward_s=" << forward_s << ") score=" << score
                << "\n";
    }
  }
  const int count = std::getenv("HWNAS_SUBNETS") ? std::atoi(std::getenv("HWNAS_SUBNETS")) : 15;
  std::mt19937_64 rng(7);
  std::vector<std::vector<double>> scores(batches.size());
  std::vector<double> total_s(batches.size()), gmacs;
  for (int t = 0; t < count; ++t) {
    const Arch arch = sample_arch(space, rng, 224);
    gmacs.push_back(arch_cost(arch, 224).flops / 2e9);
    std::cout << "subnet " << t << " gmacs=" << gmacs.back();
    for (std::size_t i = 0; i < batches.size(); ++i) {
      t0 = std::chrono::steady_clock::now();
      scores[i].push_back(evals[i].evaluate(arch).value);
      total_s[i] += seconds_since(t0);
      std::cout << " b" << batches[i] << "=" << scores[i].back();
    }
    std::cout << "\n";
  }
  for (std::size_t i = 0; i < batches.size(); ++i) {
    std::cout << "batch=" << batches[i] << " mean_eval_s=" << total_s[i] / count
              << " tau_vs_b64=" << predictor_error(scores[i], scores.back()).kendall_tau
              << " tau_vs_gmacs=" << predictor_error(scores[i], gmacs).kendall_tau << "\n";
  }
  return 0;
}
