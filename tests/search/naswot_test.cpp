#include "search/naswot.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "search/fashion_mnist.hpp"
#include "supernet/subnet.hpp"
#include "search/genome.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

template <typename E>
void expect_error(const std::function<void()>& body, const std::string& needle) {
  try {
    body();
    ADD_FAILURE() << "expected an error containing '" << needle << "'";
  } catch (const E& e) {
    std::cout << "[ error ] " << e.what() << "\n";
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

BitMatrix random_codes(std::size_t rows, std::size_t cols, std::mt19937_64& rng) {
  BitMatrix m(rows, cols);
  for (std::size_t r = 0; r < rows; ++r) {
    for (std::size_t c = 0; c < cols; ++c) m.set(r, c, (rng() & 1u) != 0);
  }
  return m;
}

// K_H straight from the definition: N_A - hamming(c_i, c_j).
std::vector<std::int64_t> brute_kernel(const BitMatrix& m) {
  const std::size_t n = m.rows();
  std::vector<std::int64_t> k(n * n);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < n; ++j) {
      std::int64_t hamming = 0;
      for (std::size_t c = 0; c < m.cols(); ++c) hamming += m.get(i, c) != m.get(j, c);
      k[i * n + j] = static_cast<std::int64_t>(m.cols()) - hamming;
    }
  }
  return k;
}

__extension__ typedef __int128 Int128;

// The exact determinant of an integer matrix (Bareiss' fraction-free elimination). Every
// intermediate is a minor, at most Hadamard's (sqrt(n) max|k|)^n, and a step multiplies two of
// them: (sqrt(7) * 130)^7 squared ~ 1e37 at n = 8, and (sqrt(5) * 300)^5 squared ~ 1e28 at n = 6,
// both inside Int128's 1.7e38.
Int128 exact_det(std::vector<std::int64_t> k64, std::size_t n) {
  std::vector<Int128> a(k64.begin(), k64.end());
  Int128 prev = 1;
  int sign = 1;
  for (std::size_t p = 0; p + 1 < n; ++p) {
    if (a[p * n + p] == 0) {
      std::size_t r = p + 1;
      while (r < n && a[r * n + p] == 0) ++r;
      if (r == n) return 0;
      for (std::size_t c = 0; c < n; ++c) std::swap(a[p * n + c], a[r * n + c]);
      sign = -sign;
    }
    for (std::size_t i = p + 1; i < n; ++i) {
      for (std::size_t j = p + 1; j < n; ++j) {
        a[i * n + j] = (a[i * n + j] * a[p * n + p] - a[i * n + p] * a[p * n + j]) / prev;
      }
    }
    prev = a[p * n + p];
  }
  return sign * a[n * n - 1];
}

double log_abs(Int128 v) {
  if (v < 0) v = -v;
  return std::log(static_cast<long double>(v));
}

// naswot_score against the definition: K exactly, log|det K| within 1e-9 (the Cholesky of a
// well-conditioned 8x8 with entries ~30..300 loses ~n * 2^-52 relative: ~1e-14 of log det ~ 40).
TEST(Naswot, ScoreMatchesBruteForceHammingKernelAndExactDeterminant) {
  std::mt19937_64 rng(testing::fresh_seed("naswot brute force"));
  for (const std::size_t units : {1u, 63u, 64u, 65u, 130u, 300u}) {
    const std::size_t n = units < 8 ? 1 : units > 130 ? 6 : 8;
    const BitMatrix codes = random_codes(n, units, rng);
    const std::vector<std::int64_t> ref = brute_kernel(codes);
    HammingKernel k(n, 2);
    k.add(codes);
    for (std::size_t i = 0; i < n; ++i) {
      for (std::size_t j = 0; j < n; ++j) {
        ASSERT_EQ(static_cast<std::int64_t>(k.agreements(i, j)), ref[i * n + j])
            << units << " units (" << i << "," << j << ")";
      }
    }
    const Int128 det = exact_det(ref, n);
    const double score = naswot_score(codes, 2);
    if (det == 0) {
      EXPECT_EQ(score, kNaswotSingular);
    } else {
      EXPECT_NEAR(score, log_abs(det), 1e-9) << units << " units";
    }
    std::cout << "[ naswot ] batch=" << n << " units=" << units << " score=" << score
              << " exact=" << (det == 0 ? -1.0 : log_abs(det)) << "\n";
  }
}

// Layer by layer and chunk by chunk (activations longer than one 64 Ki-unit chunk) sums to the
// kernel of the concatenated codes.
TEST(Naswot, StreamedActivationsEqualTheWholeCodeMatrix) {
  std::mt19937_64 rng(testing::fresh_seed("naswot stream"));
  const std::size_t n = 5;
  const Tensor a = testing::random_tensor({5, 7, 100, 101}, rng);  // 70700 units: 2 chunks
  const Tensor b = testing::random_tensor({5, 33}, rng);
  HammingKernel streamed(n, 2);
  streamed.add_activation(a.cview());
  streamed.add_activation(b.cview());
  const BitMatrix ca = BitMatrix::from_activation(a.cview());
  const BitMatrix cb = BitMatrix::from_activation(b.cview());
  BitMatrix whole(n, ca.cols() + cb.cols());
  for (std::size_t r = 0; r < n; ++r) {
    for (std::size_t c = 0; c < ca.cols(); ++c) {
      ASSERT_EQ(ca.get(r, c), a.f32()[r * ca.cols() + c] > 0.f);
      whole.set(r, c, ca.get(r, c));
    }
    for (std::size_t c = 0; c < cb.cols(); ++c) whole.set(r, ca.cols() + c, cb.get(r, c));
  }
  HammingKernel one(n, 1);
  one.add(whole);
  EXPECT_EQ(streamed.units(), 70700u + 33u);
  EXPECT_EQ(streamed.matrix(), one.matrix());
  EXPECT_EQ(streamed.score(), one.score());
  expect_error<InvalidArgument>(
      [&] {
        streamed.add_activation(testing::random_tensor({4, 3}, rng).cview());
      },
      "has batch 4, the kernel 5");
  expect_error<InvalidArgument>([&] { streamed.add(BitMatrix(3, 3)); },
                                "codes have 3 rows, the batch is 5");
}

TEST(Naswot, SingularKernelsScoreTheFloor) {
  std::mt19937_64 rng(testing::fresh_seed("naswot singular"));
  BitMatrix codes = random_codes(6, 200, rng);
  for (std::size_t c = 0; c < 200; ++c) codes.set(4, c, codes.get(1, c));  // two equal images
  EXPECT_EQ(naswot_score(codes), kNaswotSingular);
  EXPECT_EQ(naswot_score(BitMatrix(4, 100)), kNaswotSingular);  // every unit off in every image
  EXPECT_EQ(HammingKernel(3).score(), kNaswotSingular);         // nothing observed
  // Not PSD, so Cholesky stops and LU decides: |det [[0,1],[1,0]]| = 1, |det [[1,2],[2,1]]| = 3.
  EXPECT_EQ(naswot_log_det(std::vector<double>{0, 1, 1, 0}, 2), 0.0);
  EXPECT_NEAR(naswot_log_det(std::vector<double>{1, 2, 2, 1}, 2), std::log(3.0), 1e-15);
  EXPECT_EQ(naswot_log_det(std::vector<double>{1, 2, 2, 4}, 2), kNaswotSingular);
  expect_error<InvalidArgument>(
      [] {
        naswot_log_det(std::vector<double>{1, 2, 3}, 2);
      },
      "a [2, 2] matrix needs 4 entries, got 3");
}

// A space small enough for tests at 32x32: two stages, widths 8..24.
constexpr const char* kSpace = R"({
  "name": "naswot_tiny",
  "resolutions": [32],
  "stems": [{"convs": [{"kernel": 4, "stride": 4}], "norm": {"norm": "ln"}}],
  "norm": {"norm": "ln", "eps": 1e-6},
  "mlp": {"mlp": "mlp", "act": "gelu_erf"},
  "layer_scale": true,
  "stages": [
    {"depths": [1, 2], "widths": [8, 16], "mlp_ratios": [2, 4],
     "mixers": [{"mixer": "dwconv", "k": [3, 5]}, {"mixer": "pool_mixer"}]},
    {"depths": [1, 2], "widths": [16, 24], "mlp_ratios": [2, 3],
     "downsample": {"downsample": "patch_merging"},
     "mixers": [{"mixer": "dwconv", "k": [3]},
                {"mixer": "window_attention", "window": [2], "head_dim": [8]}]}
  ],
  "head": {"norm": {"norm": "ln"}, "num_classes": 10}
})";

// Each test gets its own store (one test changes it); the images are read once (the reader
// checks the whole 26 MB training file).
struct Fixture {
  SearchSpace space = parse_search_space(kSpace, "naswot_tiny.json");
  NaswotSetup setup{.resolution = 32, .batch = 8, .seed = 3};
  WeightStore shared = make_shared_weights(space, setup.seed);
  Tensor images = proxy_images(setup, space.in_chans);

  static Tensor proxy_images(const NaswotSetup& setup, std::int64_t in_chans) {
    static const Tensor kImages = load_proxy_batch(setup, in_chans);
    return kImages.clone();
  }
};

TEST(NaswotEvaluator, DeterministicFiniteAndFromTheSharedStore) {
  Fixture f;
  NaswotEvaluator eval(testing::test_engine(), f.space, f.shared, f.images.clone(), 32);
  EXPECT_EQ(eval.source(), "naswot");
  std::mt19937_64 rng(testing::fresh_seed("naswot evaluator"));
  for (int t = 0; t < 4; ++t) {
    const Arch arch = sample_arch(f.space, rng, 32);
    const QualityEstimate a = eval.evaluate(arch);
    const QualityEstimate b = eval.evaluate(arch);
    EXPECT_EQ(a.source, "naswot");
    EXPECT_FALSE(a.cache_hit);
    EXPECT_EQ(a.value, b.value) << to_json(arch);
    EXPECT_TRUE(std::isfinite(a.value));
    EXPECT_GT(a.value, 0) << to_json(arch);  // distinct Fashion-MNIST images: non-singular
    std::cout << "[ naswot ] " << arch_hash(arch) << " score=" << a.value << "\n";
  }
  // The evaluator reads the store at each evaluation: changing a weight of the arch's slice
  // changes its score; a second evaluator on the same store agrees.
  const Arch arch = largest_arch(f.space);
  const double before = eval.evaluate(arch).value;
  NaswotEvaluator again(testing::test_engine(), f.space, f.shared, f.images.clone(), 32);
  EXPECT_EQ(again.evaluate(arch).value, before);
  TensorView w = f.shared.mutable_tensor("stages.0.blocks.0.1.mlp.fc1.bias");
  for (std::int64_t i = 0; i < w.numel(); ++i) w.f32()[i] += 0.5f;
  EXPECT_NE(eval.evaluate(arch).value, before);
}

// Two subnets that share stage 0 (same width, blocks) but differ after it see the same stage-0
// hidden activations: both are sliced from one store.
TEST(NaswotEvaluator, SharedSlicesGiveTheSameActivations) {
  Fixture f;
  Arch a = largest_arch(f.space);
  Arch b = a;
  b.stages[1].width = 16;
  b.stages[1].blocks = {make_block(f.space, mixer_options(f.space, 1, 16).back(), 2)};
  ASSERT_TRUE(is_subnet_of(b, f.space));
  const auto hidden_of = [&](const Arch& arch) {
    const Subnet net = Subnet::build(testing::test_engine(), arch, f.shared,
                                     {.batch = f.setup.batch, .resolution = 32});
    Tensor logits = Tensor::empty(net.output_shape());
    std::vector<float> out;
    net.forward(f.images.cview(), logits.view(),
                [&](std::size_t, const LayerInfo& info, ConstTensorView h) {
                  if (info.name == "stages.0.blocks.1.1.mlp")
                    out.assign(h.f32(), h.f32() + h.numel());
                });
    return out;
  };
  const std::vector<float> ha = hidden_of(a), hb = hidden_of(b);
  ASSERT_FALSE(ha.empty());
  EXPECT_EQ(ha, hb);
  NaswotEvaluator eval(testing::test_engine(), f.space, f.shared, f.images.clone(), 32);
  EXPECT_NE(eval.evaluate(a).value, eval.evaluate(b).value);
}

// The smallest subnet (narrowest, shallowest, lowest ratio) scores below the largest for every
// store seed tried: its codes have ~10x fewer units, and log det K grows with batch x log N_A.
// (Over random subnets of the default space the score follows MACs only loosely: tau ~0.58.)
TEST(NaswotEvaluator, LargestSubnetOutscoresTheSmallest) {
  Fixture f;
  Arch smallest = largest_arch(f.space);
  for (std::size_t s = 0; s < smallest.stages.size(); ++s) {
    const StageChoices& c = f.space.stages[s];
    smallest.stages[s].width = c.widths.front();
    smallest.stages[s].blocks = {
        make_block(f.space, mixer_options(f.space, s, c.widths.front())[0], c.mlp_ratios.front())};
  }
  smallest.stem.convs.back().out = smallest.stages[0].width;
  for (const std::uint64_t seed : {1u, 2u, 3u}) {
    const WeightStore shared = make_shared_weights(f.space, seed);
    NaswotEvaluator eval(testing::test_engine(), f.space, shared, f.images.clone(), 32);
    const double small = eval.evaluate(smallest).value,
                 large = eval.evaluate(largest_arch(f.space)).value;
    std::cout << "[ naswot ] seed=" << seed << " smallest=" << small << " largest=" << large
              << "\n";
    EXPECT_LT(small, large) << "seed " << seed;
  }
}

// A degenerate input: the same image eight times gives one code, a singular kernel, the floor.
TEST(NaswotEvaluator, IdenticalImagesScoreTheFloor) {
  Fixture f;
  Tensor same = f.images.clone();
  const std::int64_t per = same.numel() / f.setup.batch;
  for (std::int64_t i = 1; i < f.setup.batch; ++i) {
    std::memcpy(same.f32() + i * per, same.f32(), static_cast<std::size_t>(per) * sizeof(float));
  }
  NaswotEvaluator eval(testing::test_engine(), f.space, f.shared, std::move(same), 32);
  EXPECT_EQ(eval.evaluate(largest_arch(f.space)).value, kNaswotSingular);
}

TEST(NaswotEvaluator, Errors) {
  Fixture f;
  expect_error<InvalidArgument>(
      [&] { NaswotEvaluator(testing::test_engine(), f.space, f.shared, f.images.clone(), 64); },
      "images [8,32,32,3] must be f32 [batch >= 2, 64, 64, 3]");
  NaswotEvaluator eval(testing::test_engine(), f.space, f.shared, f.images.clone(), 32);
  Arch wide = largest_arch(f.space);
  wide.stages[0].width = 12;
  wide.stem.convs.back().out = 12;
  expect_error<InvalidArgument>([&] { eval.evaluate(wide); },
                                "is not a subnet of space 'naswot_tiny'");
  EXPECT_EQ(config_key(f.setup), "res=32,batch=8,seed=3,data=fashion-mnist:train:0");
  EXPECT_EQ(config_key({}), "res=224,batch=16,seed=1,data=fashion-mnist:train:0");
}

}  // namespace
}  // namespace hwnas
