#include "kernels/ops/batch_norm.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "kernels/error.hpp"
#include "kernels/reference/batch_norm_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::all_close;
using testing::fresh_seed;

// Per element oneDNN rounds var + eps, its sqrt, gamma / sqrt, src - mean, the product and the sum
// with beta: at most 7 roundings on any term, so |got - ref| <= gamma(7) * magnitude (Higham's
// bound on a product of 1 + delta factors), doubled as the sum bound of STYLE.md §6 is.
double batch_norm_tolerance(double magnitude) { return 2.0 * testing::gamma(7) * magnitude; }

// Owns the four [c] tensors of a BatchNorm, filled the way a trained model's look: any mean, gamma
// and beta, variance in [0, 2] (0 included: eps alone keeps the channel finite).
struct RandomBatchNorm {
  Tensor mean, var, gamma, beta;
  RandomBatchNorm(std::int64_t c, std::mt19937_64& rng)
      : mean(testing::random_tensor({c}, rng)),
        var(testing::random_tensor({c}, rng, 0.f, 2.f)),
        gamma(testing::random_tensor({c}, rng)),
        beta(testing::random_tensor({c}, rng)) {}
  BatchNormWeights weights() const {
    return {mean.cview(), var.cview(), gamma.cview(), beta.cview()};
  }
};

class BatchNormTest : public ::testing::TestWithParam<BatchNormDesc> {};

TEST_P(BatchNormTest, MatchesFloat64Reference) {
  const BatchNormDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomBatchNorm bn(d.c, rng);
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());

  const BatchNormPlan plan = BatchNormPlan::create(testing::test_engine(), d, bn.weights());
  plan.run(src.view(), dst.view());
  const auto ref = reference::batch_norm(d, src.view(), bn.weights());
  EXPECT_TRUE(all_close(key, dst.view(), ref, [](double, double mag, std::int64_t) {
    return batch_norm_tolerance(mag);
  })) << plan.impl_name();

  // In place, on the token view [n, h*w, c] of the same memory.
  const TensorView tokens = src.view().reshape({d.n, d.h * d.w, d.c});
  plan.run(tokens, tokens);
  EXPECT_TRUE(all_close(key + " in place", tokens, ref, [](double, double mag, std::int64_t) {
    return batch_norm_tolerance(mag);
  }));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BatchNormTest,
    ::testing::Values(BatchNormDesc{.n = 1, .h = 1, .w = 1, .c = 1},
                      BatchNormDesc{.n = 2, .h = 3, .w = 7, .c = 3},
                      BatchNormDesc{.n = 1, .h = 13, .w = 13, .c = 19, .eps = 1e-3f},
                      BatchNormDesc{.n = 3, .h = 1, .w = 13, .c = 23},
                      BatchNormDesc{.n = 1, .h = 7, .w = 7, .c = 96},
                      BatchNormDesc{.n = 1, .h = 57, .w = 57, .c = 23, .eps = 1e-6f}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// Strided BatchNorm tensors (every other element of a [2c] buffer) are read correctly.
TEST(BatchNormWeightsLayout, StridedVectors) {
  const BatchNormDesc d{.n = 1, .h = 3, .w = 5, .c = 19};
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomBatchNorm bn(2 * d.c, rng);
  const auto every_other = [&](const Tensor& t) {
    return ConstTensorView(t.cview().data(), Shape{d.c}, Strides{2}, DType::F32);
  };
  const BatchNormWeights weights{every_other(bn.mean), every_other(bn.var), every_other(bn.gamma),
                                 every_other(bn.beta)};
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  BatchNormPlan::create(testing::test_engine(), d, weights).run(src.view(), dst.view());
  const auto ref = reference::batch_norm(d, src.view(), weights);
  EXPECT_TRUE(all_close(key, dst.view(), ref, [](double, double mag, std::int64_t) {
    return batch_norm_tolerance(mag);
  }));
}

TEST(BatchNormKey, RoundTrips) {
  const BatchNormDesc d{.n = 2, .h = 56, .w = 56, .c = 96, .eps = 1e-3f};
  EXPECT_EQ(to_string(d), "batch_norm:n=2,h=56,w=56,c=96,eps=0.001");
  EXPECT_EQ(parse_batch_norm_desc(to_string(d)), d);
  EXPECT_EQ(to_string(parse_batch_norm_desc("batch_norm:c=3")),
            "batch_norm:n=1,h=56,w=56,c=3,eps=1e-05");
  for (const float eps : {1e-5f, 1e-6f, 1.1920929e-7f, 3e-4f}) {
    const BatchNormDesc e{.eps = eps};
    EXPECT_EQ(parse_batch_norm_desc(to_string(e)), e) << to_string(e);
  }
}

TEST(BatchNormCost, OneMultiplyAddPerElement) {
  const OpCost c = cost(BatchNormDesc{.n = 2, .h = 3, .w = 5, .c = 7});
  EXPECT_EQ(c.flops, 2.0 * 2 * 3 * 5 * 7);
  EXPECT_EQ(c.bytes, 4.0 * (2 * 2 * 3 * 5 * 7 + 4 * 7));
  EXPECT_EQ(c.params, 14);
}

template <typename Fn>
void expect_invalid(Fn&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected InvalidArgument containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(BatchNormErrors, NameTheBadValue) {
  std::mt19937_64 rng(fresh_seed("BatchNormErrors"));
  const RandomBatchNorm bn(3, rng);
  const auto create = [](const BatchNormDesc& d, const BatchNormWeights& w) {
    return [d, w] { BatchNormPlan::create(testing::test_engine(), d, w); };
  };
  const BatchNormDesc d{.n = 1, .h = 2, .w = 2, .c = 3};
  expect_invalid(create({.n = 1, .h = 0, .w = 2, .c = 3}, bn.weights()),
                 "batch_norm: h=0 must be >= 1 [batch_norm:n=1,h=0,w=2,c=3,eps=1e-05]");
  expect_invalid(create({.n = 1, .h = 2, .w = 2, .c = 3, .eps = 0.f}, bn.weights()),
                 "eps=0 must be finite and > 0");
  expect_invalid(create({.n = 1, .h = 2, .w = 2, .c = 4}, bn.weights()),
                 "mean shape [3] must be [c=4]");
  Tensor gamma16 = Tensor::empty({3}, DType::BF16);
  expect_invalid(create(d, {bn.mean.cview(), bn.var.cview(), gamma16.cview(), bn.beta.cview()}),
                 "gamma dtype=bf16 is unsupported");
  expect_invalid(create(d, {bn.mean.cview(), bn.var.cview(), bn.gamma.cview(), {}}),
                 "beta shape [] must be [c=3]");
  Tensor bad_var = bn.var.clone();
  bad_var.f32()[1] = -0.5f;
  expect_invalid(create(d, {bn.mean.cview(), bad_var.cview(), bn.gamma.cview(), bn.beta.cview()}),
                 "var[1]=-0.5 must be finite with var + eps > 0");

  EXPECT_THROW(parse_batch_norm_desc("batch_norm:eps=-1"), InvalidArgument);
  EXPECT_THROW(parse_batch_norm_desc("batch_norm:eps=1e-5e"), InvalidArgument);
  EXPECT_THROW(parse_batch_norm_desc("batch_norm:eps=inf"), InvalidArgument);
  EXPECT_THROW(parse_batch_norm_desc("batch_norm:c=0"), InvalidArgument);
}

// --- fold_batch_norm
// -------------------------------------------------------------------------------

struct ConvCase {
  std::int64_t h, w, ic, oc, kernel, groups;
  bool bias;
};

// A stride-1, "same"-padded (kernel / 2) grouped conv in float64 from the definition: src NHWC
// [1, h, w, ic], weights OIHW [oc, ic / groups, k, k], bias [oc] or empty. Enough to check the
// fold; the real conv2d op has its own reference.
reference::RefOutput conv_ref(const ConvCase& c, const ConstTensorView& src,
                              const ConstTensorView& weights, const ConstTensorView& bias) {
  using reference::at;
  reference::RefOutput out = reference::RefOutput::of_shape({1, c.h, c.w, c.oc});
  const std::int64_t ic_per_group = c.ic / c.groups, oc_per_group = c.oc / c.groups,
                     pad = c.kernel / 2;
  for (std::int64_t y = 0; y < c.h; ++y) {
    for (std::int64_t x = 0; x < c.w; ++x) {
      for (std::int64_t o = 0; o < c.oc; ++o) {
        double sum = bias.empty() ? 0.0 : at(bias, o);
        double magnitude = std::abs(sum);
        const std::int64_t group = o / oc_per_group;
        for (std::int64_t i = 0; i < ic_per_group; ++i) {
          for (std::int64_t ky = 0; ky < c.kernel; ++ky) {
            for (std::int64_t kx = 0; kx < c.kernel; ++kx) {
              const std::int64_t sy = y + ky - pad, sx = x + kx - pad;
              if (sy < 0 || sy >= c.h || sx < 0 || sx >= c.w) continue;
              const double term =
                  at(src, (sy * c.w + sx) * c.ic + group * ic_per_group + i) *
                  at(weights, ((o * ic_per_group + i) * c.kernel + ky) * c.kernel + kx);
              sum += term;
              magnitude += std::abs(term);
            }
          }
        }
        const auto idx = static_cast<std::size_t>((y * c.w + x) * c.oc + o);
        out.value[idx] = sum;
        out.magnitude[idx] = magnitude;
      }
    }
  }
  return out;
}

class FoldBatchNormTest : public ::testing::TestWithParam<ConvCase> {};

// conv(x, w', b') with the folded f32 weights against BatchNorm(conv(x, w, b)), both in float64.
// Each folded value is its float64 value rounded once (relative error <= u), and the float64
// arithmetic adds a few 2^-53; so the two agree to gamma(2) * M with M = sum |w' x| + |(b - mean)
// s| + |beta|, doubled as the sum bound is.
TEST_P(FoldBatchNormTest, ConvWithFoldedWeightsEqualsConvThenBatchNorm) {
  const ConvCase c = GetParam();
  const float eps = 1e-5f;
  const std::string key =
      fmt::format("fold_batch_norm h={} w={} ic={} oc={} k={} groups={} bias={}", c.h, c.w, c.ic,
                  c.oc, c.kernel, c.groups, c.bias);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({1, c.h, c.w, c.ic}, rng);
  Tensor weights = testing::random_tensor({c.oc, c.ic / c.groups, c.kernel, c.kernel}, rng);
  Tensor bias = testing::random_tensor({c.oc}, rng);
  const ConstTensorView bias_view = c.bias ? bias.cview() : ConstTensorView();
  const RandomBatchNorm bn(c.oc, rng);

  const FoldedConv folded = fold_batch_norm(weights.cview(), bias_view, bn.weights(), eps);
  ASSERT_EQ(folded.weights.shape(), weights.shape());
  ASSERT_EQ(folded.bias.shape(), Shape{c.oc});

  const auto conv = conv_ref(c, src.cview(), weights.cview(), bias_view);
  const auto refolded = conv_ref(c, src.cview(), folded.weights.cview(), folded.bias.cview());
  int failures = 0;
  for (std::size_t idx = 0; idx < conv.value.size() && failures < 10; ++idx) {
    const auto o = static_cast<std::int64_t>(idx) % c.oc;
    const double mean = reference::at(bn.mean.cview(), o), beta = reference::at(bn.beta.cview(), o);
    const double s =
        reference::at(bn.gamma.cview(), o) / std::sqrt(reference::at(bn.var.cview(), o) + eps);
    const double b = c.bias ? reference::at(bias.cview(), o) : 0.0;
    const double want = (conv.value[idx] - mean) * s + beta;
    const double tol = 2.0 * testing::gamma(2) *
                       (refolded.magnitude[idx] + std::abs((b - mean) * s) + std::abs(beta));
    if (!(std::abs(refolded.value[idx] - want) <= tol)) {
      ADD_FAILURE() << key << " at flat " << idx << ": got " << refolded.value[idx] << " want "
                    << want << " tol " << tol;
      ++failures;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Convs, FoldBatchNormTest,
    ::testing::Values(
        ConvCase{.h = 5, .w = 7, .ic = 3, .oc = 19, .kernel = 3, .groups = 1, .bias = true},
        ConvCase{.h = 3, .w = 3, .ic = 23, .oc = 23, .kernel = 7, .groups = 23, .bias = false},
        ConvCase{.h = 1, .w = 1, .ic = 4, .oc = 6, .kernel = 1, .groups = 2, .bias = true},
        ConvCase{.h = 13, .w = 13, .ic = 96, .oc = 96, .kernel = 3, .groups = 96, .bias = true},
        ConvCase{.h = 7, .w = 7, .ic = 1, .oc = 3, .kernel = 5, .groups = 1, .bias = false}),
    [](const auto& p) {
      const ConvCase& c = p.param;
      return fmt::format("h{}w{}ic{}oc{}k{}g{}bias{}", c.h, c.w, c.ic, c.oc, c.kernel, c.groups,
                         c.bias ? 1 : 0);
    });

// Strided conv weights (an OIHW view of a larger buffer) fold like their contiguous copy.
TEST(FoldBatchNorm, StridedWeightsFoldLikeTheirCopy) {
  std::mt19937_64 rng(fresh_seed("FoldBatchNorm.StridedWeights"));
  Tensor store = testing::random_tensor({5, 3, 4, 3}, rng);
  const ConstTensorView weights = store.cview().slice(2, 1, 4);  // [5, 3, 3, 3], not contiguous
  const RandomBatchNorm bn(5, rng);
  const FoldedConv a = fold_batch_norm(weights, {}, bn.weights(), 1e-5f);
  const Tensor copy = Tensor::copy_of(weights);
  const FoldedConv b = fold_batch_norm(copy.cview(), {}, bn.weights(), 1e-5f);
  for (std::int64_t i = 0; i < a.weights.numel(); ++i)
    EXPECT_EQ(a.weights.f32()[i], b.weights.f32()[i]) << i;
  for (std::int64_t i = 0; i < 5; ++i) EXPECT_EQ(a.bias.f32()[i], b.bias.f32()[i]) << i;
}

TEST(FoldBatchNorm, ErrorsNameTheBadValue) {
  std::mt19937_64 rng(fresh_seed("FoldBatchNorm.Errors"));
  const RandomBatchNorm bn(4, rng);
  Tensor weights = testing::random_tensor({4, 2, 3, 3}, rng);
  Tensor bias = testing::random_tensor({4}, rng);
  Tensor wrong_bias = testing::random_tensor({5}, rng);
  Tensor weights_2d = testing::random_tensor({4, 18}, rng);
  Tensor weights_oc6 = testing::random_tensor({6, 2, 3, 3}, rng);
  Tensor weights16 = Tensor::empty({4, 2, 3, 3}, DType::BF16);
  const auto fold = [&](const Tensor& w, ConstTensorView b, float eps) {
    return [&w, b, eps, &bn] { fold_batch_norm(w.cview(), b, bn.weights(), eps); };
  };
  expect_invalid(fold(weights_2d, bias.cview(), 1e-5f), "conv weights shape [4,18] must be OIHW");
  expect_invalid(fold(weights, wrong_bias.cview(), 1e-5f), "conv bias shape [5] must be [oc=4]");
  expect_invalid(fold(weights_oc6, {}, 1e-5f),
                 "mean shape [4] must be [c=6] (conv weights [6,2,3,3] have oc=6)");
  expect_invalid(fold(weights16, {}, 1e-5f), "conv weights dtype=bf16");
  expect_invalid(fold(weights, {}, -1.f), "eps=-1 must be finite and > 0");
  expect_invalid(fold(weights, {}, std::numeric_limits<float>::quiet_NaN()), "eps=nan");
}

}  // namespace
}  // namespace hwnas
