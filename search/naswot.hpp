// NASWOT (Mellor, Turner, Storkey, Crowley 2021, "Neural Architecture Search without Training"):
// a zero-cost PROXY of an architecture's quality, not its accuracy. A mini-batch of real images is
// forwarded once through the untrained network (here: the subnet sliced from the supernet's shared
// weights); each image gets a binary code c_i, one bit per rectified unit (pre-activation > 0, as
// Subnet's ActivationObserver shows them); the kernel
//
//   K_H[i, j] = N_A - hamming(c_i, c_j)      (the number of units on which images i and j agree)
//
// scores the network by log|det K_H|: the more distinct the activation patterns of different
// images, the higher. Higher is better. The paper reports it correlating with trained accuracy on
// NAS-Bench-201 (Kendall tau ~0.57 on CIFAR-10); here it stands in until supernet training lands,
// behind the same QualityEvaluator interface (search/evaluator.hpp), with source "naswot".
//
//   HammingKernel k(batch);
//   net.forward(images, logits, [&](std::size_t, const LayerInfo&, ConstTensorView a) {
//     k.add_activation(a);      // streamed per layer: the codes are never all held
//   });
//   double score = k.score();
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/engine.hpp"
#include "kernels/tensor.hpp"
#include "search/evaluator.hpp"
#include "supernet/search_space.hpp"
#include "supernet/weight_store.hpp"

namespace hwnas {

// The score of a singular K_H (two images with the same code, or no rectified unit at all). K_H's
// entries are integers, so a non-singular K_H has |det| >= 1 and log|det| >= 0: -1 ranks a
// singular kernel below every non-singular one, while staying a finite REAL the store can hold and
// a hypervolume can use (the search maximises quality; -inf or -1e30 would swamp both).
inline constexpr double kNaswotSingular = -1.0;

// A [rows, cols] bit matrix, row-major; each row padded with zero bits to whole 64-bit words.
class BitMatrix {
 public:
  BitMatrix(std::size_t rows, std::size_t cols);
  // The codes of an activation [rows, ...] (contiguous f32; cols = numel / rows): bit = value > 0
  // (NaN gives 0). Throws InvalidArgument for an empty or non-contiguous view.
  static BitMatrix from_activation(ConstTensorView activation);

  std::size_t rows() const { return rows_; }
  std::size_t cols() const { return cols_; }
  std::size_t words_per_row() const { return words_; }
  bool get(std::size_t r, std::size_t c) const;
  void set(std::size_t r, std::size_t c, bool value);
  std::span<const std::uint64_t> row(std::size_t r) const;

 private:
  std::size_t rows_, cols_, words_;
  std::vector<std::uint64_t> bits_;
};

// K_H accumulated over any number of code blocks of the same batch (one per layer, or chunks of
// one): K[i][j] += (units of the block on which rows i and j agree), counted exactly in integers
// by popcount(~(a ^ b)).
class HammingKernel {
 public:
  // threads: OpenMP threads for packing and counting (the Engine's count); >= 1.
  explicit HammingKernel(std::size_t batch, int threads = 1);

  // codes.rows() must equal batch (InvalidArgument otherwise).
  void add(const BitMatrix& codes);
  // Adds the codes of an activation [batch, ...] (contiguous f32, bit = value > 0) in chunks of
  // units, never packing more than batch x 64 Ki units at once. Throws InvalidArgument when the
  // leading dimension is not batch or the view is not contiguous f32.
  void add_activation(ConstTensorView activation);

  std::size_t batch() const { return batch_; }
  std::uint64_t units() const { return units_; }  // N_A so far (the diagonal)
  std::uint64_t agreements(std::size_t i, std::size_t j) const;
  std::vector<double> matrix() const;  // [batch, batch] row-major float64
  // log|det K_H| (naswot_log_det of matrix()); kNaswotSingular when singular or empty.
  double score() const;

 private:
  void add_words(const std::uint64_t* words, std::size_t words_per_row, std::size_t units);

  std::size_t batch_;
  int threads_;
  std::uint64_t units_ = 0;
  std::vector<std::uint64_t> agree_;  // upper triangle used, i <= j
};

// log|det K| of a symmetric positive semi-definite matrix with integer entries (a Hamming
// kernel), [n, n] row-major. Cholesky in float64; where it meets a pivot <= 0 (K singular, or
// rounding on a nearly singular K), LU with partial pivoting. kNaswotSingular when a pivot is zero
// or the result is below 0, which for an integer matrix only rounding can give (|det| >= 1 unless
// det = 0). Throws InvalidArgument when k.size() != n * n or n == 0.
double naswot_log_det(std::span<const double> k, std::size_t n);

// The NASWOT score of codes [batch, units]: log|det K_H| of their Hamming kernel.
double naswot_score(const BitMatrix& codes, int threads = 1);

// The inputs the score of a run depends on, beyond the space and the arch (apps/ caches scores in
// the store under config_key).
struct NaswotSetup {
  std::int64_t resolution = 224;
  // Images of the proxy batch. 16: measured on the default space at 224 (2 threads, 15 random
  // subnets; tests/search/naswot_timing_test.cpp), batch 16 ranks them exactly as batch 32 does
  // (Kendall tau 1.0) and as batch 64 does to tau 0.98 (one swapped pair), at about half of
  // batch 32's forward time (one swin_t-sized evaluation ~0.7..5 s on this shared 2-core host).
  std::int64_t batch = 16;
  std::uint64_t seed = 1;       // of the shared weights (make_shared_weights)
  std::string split = "train";  // Fashion-MNIST split the images come from
  std::size_t offset = 0;       // index of the first image
};
// "res=224,batch=16,seed=1,data=fashion-mnist:train:0"
std::string config_key(const NaswotSetup& setup);

// The supernet's shared weights for `space`: declare_space, then initialize(seed) (random, as
// WeightStore::initialize draws each kind). Until training lands these are what NASWOT scores.
WeightStore make_shared_weights(const SearchSpace& space, std::uint64_t seed);
// The proxy batch of a setup: images offset .. offset + batch - 1 of the split, through
// make_proxy_batch at setup.resolution with in_chans channels. dir: the data set's folder
// (default_fashion_mnist_dir() when empty). Throws as load_idx_images does.
Tensor load_proxy_batch(const NaswotSetup& setup, std::int64_t in_chans,
                        const std::string& dir = {});

// The quality evaluator until supernet training lands: each Arch's subnet is built from the shared
// store (its weights sliced as docs/arch.md says, so two subnets sharing a slice score with the
// same weights), forwarded once on the batch with the activation observer, and scored. source():
// "naswot". Deterministic: same store, images and arch -> the same score (the codes are signs of
// one forward; oneDNN's results are run-to-run reproducible on one machine and thread count).
class NaswotEvaluator final : public QualityEvaluator {
 public:
  // images: [batch, resolution, resolution, space.in_chans] f32 (load_proxy_batch), batch >= 2.
  // `shared` must outlive the evaluator and hold every weight of the space (make_shared_weights).
  // Throws InvalidArgument for a wrong image shape.
  NaswotEvaluator(const Engine& engine, const SearchSpace& space, const WeightStore& shared,
                  Tensor images, std::int64_t resolution);

  std::string_view source() const override { return "naswot"; }
  // Throws InvalidArgument when arch is not a subnet of the space (naming why), or as
  // Subnet::build does.
  QualityEstimate evaluate(const Arch& arch) override;
  // The kernel evaluate scores (for tests and diagnostics).
  HammingKernel kernel(const Arch& arch) const;

 private:
  Engine engine_;
  SearchSpace space_;
  const WeightStore* shared_;
  Tensor images_;
  std::int64_t resolution_;
};

}  // namespace hwnas
