#include "search/naswot.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cmath>

#include "kernels/error.hpp"
#include "search/fashion_mnist.hpp"
#include "supernet/subnet.hpp"

namespace hwnas {
namespace {

constexpr std::size_t kChunkWords = 1024;  // 64 Ki units per image per pass: batch 64 -> 512 KiB
// Below this many words of work a parallel region costs more than it saves (a test-sized layer
// took 20x longer with two spinning threads on a loaded host).
constexpr std::size_t kParallelWords = std::size_t{1} << 15;

std::size_t words_for(std::size_t bits) { return (bits + 63) / 64; }

// Bits [0, n) of `word_count` words from src[0 .. n): bit = src > 0; the tail of the last word 0.
void pack(const float* src, std::size_t n, std::uint64_t* dst) noexcept {
  const std::size_t full = n / 64;
  for (std::size_t w = 0; w < full; ++w) {
    std::uint64_t word = 0;
    const float* s = src + w * 64;
    for (unsigned b = 0; b < 64; ++b) word |= static_cast<std::uint64_t>(s[b] > 0.f) << b;
    dst[w] = word;
  }
  if (full * 64 < n) {
    std::uint64_t word = 0;
    const float* s = src + full * 64;
    for (std::size_t b = 0; b < n - full * 64; ++b) {
      word |= static_cast<std::uint64_t>(s[b] > 0.f) << b;
    }
    dst[full] = word;
  }
}

void check_activation(ConstTensorView a, std::string_view what) {
  if (a.dtype() != DType::F32 || !a.is_contiguous() || a.shape().rank() < 1 || a.numel() == 0) {
    throw InvalidArgument(fmt::format(
        "{}: the activation must be a non-empty contiguous f32 [batch, ...] view", what));
  }
}

}  // namespace

BitMatrix::BitMatrix(std::size_t rows, std::size_t cols)
    : rows_(rows), cols_(cols), words_(words_for(cols)), bits_(rows * words_, 0) {}

BitMatrix BitMatrix::from_activation(ConstTensorView activation) {
  check_activation(activation, "BitMatrix::from_activation");
  const auto rows = static_cast<std::size_t>(activation.shape()[0]);
  const std::size_t cols = static_cast<std::size_t>(activation.numel()) / rows;
  BitMatrix m(rows, cols);
  for (std::size_t r = 0; r < rows; ++r) {
    pack(activation.f32() + r * cols, cols, m.bits_.data() + r * m.words_);
  }
  return m;
}

bool BitMatrix::get(std::size_t r, std::size_t c) const {
  return ((bits_[r * words_ + c / 64] >> (c % 64)) & 1u) != 0;
}

void BitMatrix::set(std::size_t r, std::size_t c, bool value) {
  std::uint64_t& word = bits_[r * words_ + c / 64];
  const std::uint64_t mask = std::uint64_t{1} << (c % 64);
  word = value ? word | mask : word & ~mask;
}

std::span<const std::uint64_t> BitMatrix::row(std::size_t r) const {
  return {bits_.data() + r * words_, words_};
}

HammingKernel::HammingKernel(std::size_t batch, int threads)
    : batch_(batch), threads_(std::max(threads, 1)), agree_(batch * batch, 0) {}

void HammingKernel::add_words(const std::uint64_t* words, std::size_t words_per_row,
                              std::size_t units) {
  // The padding bits are 0 in every row, so they never differ: agreements = units - popcount.
  const auto n = static_cast<std::int64_t>(batch_);
  std::uint64_t* agree = agree_.data();
  const bool parallel = batch_ * batch_ / 2 * words_per_row >= kParallelWords;
#pragma omp parallel for num_threads(threads_) schedule(dynamic, 1) if (parallel)
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint64_t* a = words + static_cast<std::size_t>(i) * words_per_row;
    for (std::int64_t j = i + 1; j < n; ++j) {
      const std::uint64_t* b = words + static_cast<std::size_t>(j) * words_per_row;
      std::uint64_t differ = 0;
      for (std::size_t w = 0; w < words_per_row; ++w) differ += std::popcount(a[w] ^ b[w]);
      agree[static_cast<std::size_t>(i * n + j)] += units - differ;
    }
  }
  units_ += units;
}

void HammingKernel::add(const BitMatrix& codes) {
  if (codes.rows() != batch_) {
    throw InvalidArgument(
        fmt::format("HammingKernel: codes have {} rows, the batch is {}", codes.rows(), batch_));
  }
  if (codes.cols() == 0) return;
  std::vector<std::uint64_t> words(batch_ * codes.words_per_row());
  for (std::size_t r = 0; r < batch_; ++r) {
    std::copy(codes.row(r).begin(), codes.row(r).end(), words.begin() + r * codes.words_per_row());
  }
  add_words(words.data(), codes.words_per_row(), codes.cols());
}

void HammingKernel::add_activation(ConstTensorView activation) {
  check_activation(activation, "HammingKernel::add_activation");
  if (static_cast<std::size_t>(activation.shape()[0]) != batch_) {
    throw InvalidArgument(fmt::format("HammingKernel: activation {} has batch {}, the kernel {}",
                                      activation.shape().to_string(), activation.shape()[0],
                                      batch_));
  }
  const std::size_t units = static_cast<std::size_t>(activation.numel()) / batch_;
  const float* src = activation.f32();
  std::vector<std::uint64_t> words(batch_ * std::min(kChunkWords, words_for(units)));
  for (std::size_t begin = 0; begin < units; begin += kChunkWords * 64) {
    const std::size_t chunk = std::min(units - begin, kChunkWords * 64);
    const std::size_t per_row = words_for(chunk);
    const auto n = static_cast<std::int64_t>(batch_);
    const bool parallel = batch_ * per_row >= kParallelWords;
#pragma omp parallel for num_threads(threads_) schedule(static) if (parallel)
    for (std::int64_t r = 0; r < n; ++r) {
      const auto row = static_cast<std::size_t>(r);
      pack(src + row * units + begin, chunk, words.data() + row * per_row);
    }
    add_words(words.data(), per_row, chunk);
  }
}

std::uint64_t HammingKernel::agreements(std::size_t i, std::size_t j) const {
  if (i == j) return units_;
  return i < j ? agree_[i * batch_ + j] : agree_[j * batch_ + i];
}

std::vector<double> HammingKernel::matrix() const {
  std::vector<double> k(batch_ * batch_);
  for (std::size_t i = 0; i < batch_; ++i) {
    for (std::size_t j = 0; j < batch_; ++j) {
      k[i * batch_ + j] = static_cast<double>(agreements(i, j));
    }
  }
  return k;
}

double HammingKernel::score() const {
  if (batch_ == 0 || units_ == 0) return kNaswotSingular;
  return naswot_log_det(matrix(), batch_);
}

double naswot_log_det(std::span<const double> k, std::size_t n) {
  if (n == 0 || k.size() != n * n) {
    throw InvalidArgument(fmt::format(
        "naswot_log_det: a [{0}, {0}] matrix needs {1} entries, got {2}", n, n * n, k.size()));
  }
  // Cholesky: K = L L^T, log det = 2 sum log L_jj. K is PSD (a sum of Gram matrices of 0/1
  // codes and of their complements), so only singularity or rounding stop it.
  std::vector<double> l(k.begin(), k.end());
  double log_det = 0;
  bool ok = true;
  for (std::size_t j = 0; j < n && ok; ++j) {
    double d = l[j * n + j];
    for (std::size_t p = 0; p < j; ++p) d -= l[j * n + p] * l[j * n + p];
    if (!(d > 0)) {
      ok = false;
      break;
    }
    const double root = std::sqrt(d);
    l[j * n + j] = root;
    log_det += std::log(d);
    for (std::size_t i = j + 1; i < n; ++i) {
      double s = l[i * n + j];
      for (std::size_t p = 0; p < j; ++p) s -= l[i * n + p] * l[j * n + p];
      l[i * n + j] = s / root;
    }
  }
  if (!ok) {
    // LU with partial pivoting: |det| = prod |U_jj|.
    std::vector<double> a(k.begin(), k.end());
    log_det = 0;
    for (std::size_t j = 0; j < n; ++j) {
      std::size_t pivot = j;
      for (std::size_t i = j + 1; i < n; ++i) {
        if (std::abs(a[i * n + j]) > std::abs(a[pivot * n + j])) pivot = i;
      }
      const double u = a[pivot * n + j];
      if (u == 0 || !std::isfinite(u)) return kNaswotSingular;
      if (pivot != j) {
        for (std::size_t c = 0; c < n; ++c) std::swap(a[j * n + c], a[pivot * n + c]);
      }
      log_det += std::log(std::abs(u));
      for (std::size_t i = j + 1; i < n; ++i) {
        const double f = a[i * n + j] / u;
        for (std::size_t c = j; c < n; ++c) a[i * n + c] -= f * a[j * n + c];
      }
    }
  }
  if (!std::isfinite(log_det) || log_det < 0) return kNaswotSingular;
  return log_det;
}

double naswot_score(const BitMatrix& codes, int threads) {
  HammingKernel k(codes.rows(), threads);
  k.add(codes);
  return k.score();
}

std::string config_key(const NaswotSetup& s) {
  return fmt::format("res={},batch={},seed={},data=fashion-mnist:{}:{}", s.resolution, s.batch,
                     s.seed, s.split, s.offset);
}

WeightStore make_shared_weights(const SearchSpace& space, std::uint64_t seed) {
  WeightStore store;
  declare_space(store, space);
  store.initialize(seed);
  return store;
}

Tensor load_proxy_batch(const NaswotSetup& setup, std::int64_t in_chans, const std::string& dir) {
  if (setup.batch < 1) {
    throw InvalidArgument(fmt::format("naswot: batch={} must be >= 1", setup.batch));
  }
  const ImageSet set = load_idx_images(fashion_mnist_path(setup.split, IdxKind::Images, dir),
                                       static_cast<std::size_t>(setup.batch), setup.offset);
  return make_proxy_batch(set, setup.resolution, in_chans);
}

NaswotEvaluator::NaswotEvaluator(const Engine& engine, const SearchSpace& space,
                                 const WeightStore& shared, Tensor images, std::int64_t resolution)
    : engine_(engine),
      space_(space),
      shared_(&shared),
      images_(std::move(images)),
      resolution_(resolution) {
  const Shape& s = images_.shape();
  if (images_.dtype() != DType::F32 || s.rank() != 4 || s[0] < 2 || s[1] != resolution ||
      s[2] != resolution || s[3] != space.in_chans) {
    throw InvalidArgument(fmt::format(
        "naswot: images {} must be f32 [batch >= 2, {}, {}, {}] (resolution, space in_chans)",
        s.to_string(), resolution, resolution, space.in_chans));
  }
}

HammingKernel NaswotEvaluator::kernel(const Arch& arch) const {
  std::string why;
  if (!is_subnet_of(arch, space_, &why)) {
    throw InvalidArgument(fmt::format("naswot: arch '{}' is not a subnet of space '{}': {}",
                                      arch.name, space_.name, why));
  }
  const std::int64_t batch = images_.shape()[0];
  const Subnet net =
      Subnet::build(engine_, arch, *shared_, {.batch = batch, .resolution = resolution_});
  Tensor logits = Tensor::empty(net.output_shape());
  HammingKernel k(static_cast<std::size_t>(batch), engine_.threads());
  net.forward(images_.cview(), logits.view(),
              [&](std::size_t, const LayerInfo&, ConstTensorView activation) {
                k.add_activation(activation);
              });
  return k;
}

QualityEstimate NaswotEvaluator::evaluate(const Arch& arch) {
  return {.value = kernel(arch).score(), .source = "naswot"};
}

}  // namespace hwnas
