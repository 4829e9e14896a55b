#include "kernels/ops/linear.hpp"

#include <gtest/gtest.h>

#include "kernels/error.hpp"
#include "kernels/reference/activation_ref.hpp"
#include "kernels/reference/linear_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::all_close;
using testing::fresh_seed;

class LinearTest : public ::testing::TestWithParam<LinearDesc> {};

TEST_P(LinearTest, MatchesFloat64Reference) {
  const LinearDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({d.m, d.k}, rng);
  Tensor weights = testing::random_tensor(linear_weights_shape(d), rng);
  Tensor bias = testing::random_tensor({d.n}, rng);
  Tensor dst = Tensor::empty({d.m, d.n});
  testing::poison(dst.view());

  const Engine eng = testing::test_engine();
  const LinearPlan plan = LinearPlan::create(eng, d, weights.view(), bias.view());
  plan.run(src.view(), dst.view());
  const auto ref = reference::linear(d, src.view(), weights.view(), bias.view());
  // Pre-activation error is Higham's bound; every fused activation here has |f'| <= 1.13, and the
  // activation's own evaluation adds 4e-5 relative (tanh-GELU / SiLU, the loosest).
  EXPECT_TRUE(all_close(key, dst.view(), ref, [&](double r, double mag, std::int64_t) {
    return 1.13 * testing::sum_tolerance(d.k, mag) + testing::transcendental_tolerance(r, 4e-5);
  }));
}

TEST_P(LinearTest, ExactOnIntegers) {
  LinearDesc d = GetParam();
  // The exact tier needs an exact activation: keep none, turn every other into relu.
  if (d.act != Activation::None) d.act = Activation::Relu;
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = Tensor::empty({d.m, d.k}), weights = Tensor::empty(linear_weights_shape(d)),
         bias = Tensor::empty({d.n}), dst = Tensor::empty({d.m, d.n});
  testing::fill_integers(src.view(), rng);
  testing::fill_integers(weights.view(), rng);
  testing::fill_integers(bias.view(), rng);
  testing::poison(dst.view());
  LinearPlan::create(testing::test_engine(), d, weights.view(), bias.view())
      .run(src.view(), dst.view());
  const auto ref = reference::linear(d, src.view(), weights.view(), bias.view());
  EXPECT_TRUE(all_close(key, dst.view(), ref, [](double, double, std::int64_t) { return 0.0; }));
}

// A supernet's weight is a slice of a larger stored one (leading rows and columns, every other
// bias element of a segmented one): the plan must read the view's strides, exactly (integers).
TEST(LinearStrides, SlicedWeightsAndBiasReadTheirStrides) {
  const LinearDesc d{.m = 5, .k = 7, .n = 6};
  std::mt19937_64 rng(fresh_seed("linear strided"));
  Tensor src = Tensor::empty({d.m, d.k}), big_w = Tensor::empty({d.n + 3, d.k + 5}),
         big_b = Tensor::empty({2 * d.n}), dst = Tensor::empty({d.m, d.n});
  testing::fill_integers(src.view(), rng);
  testing::fill_integers(big_w.view(), rng);
  testing::fill_integers(big_b.view(), rng);
  testing::poison(dst.view());
  const ConstTensorView w = big_w.cview().slice(0, 0, d.n).slice(1, 0, d.k);
  const ConstTensorView b(reinterpret_cast<const std::byte*>(big_b.f32()), Shape{d.n}, Strides{2},
                          DType::F32);
  LinearPlan::create(testing::test_engine(), d, w, b).run(src.view(), dst.view());
  const auto ref = reference::linear(d, src.view(), w, b);
  EXPECT_TRUE(
      all_close(to_string(d), dst.view(), ref, [](double, double, std::int64_t) { return 0.0; }));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LinearTest,
    ::testing::Values(LinearDesc{.m = 1, .k = 1, .n = 1}, LinearDesc{.m = 3, .k = 3, .n = 19},
                      LinearDesc{.m = 13, .k = 23, .n = 7, .bias = Bias::None},
                      LinearDesc{.m = 57, .k = 96, .n = 3, .act = Activation::Relu},
                      LinearDesc{.m = 49, .k = 96, .n = 384, .act = Activation::GeluErf},
                      LinearDesc{.m = 7, .k = 19, .n = 23, .act = Activation::GeluTanh},
                      LinearDesc{.m = 3, .k = 57, .n = 13, .act = Activation::Silu},
                      LinearDesc{.m = 5, .k = 13, .n = 96, .act = Activation::Hardswish},
                      LinearDesc{.m = 3, .k = 17, .n = 48, .act = Activation::Sigmoid}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// The residual epilogue: dst = residual + gamma * act(x W^T + b) in the matmul's output pass.
class LinearResidualTest : public ::testing::TestWithParam<LinearDesc> {};

TEST_P(LinearResidualTest, MatchesFloat64Reference) {
  const LinearDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({d.m, d.k}, rng);
  Tensor weights = testing::random_tensor(linear_weights_shape(d), rng);
  Tensor bias = testing::random_tensor({d.n}, rng);
  Tensor gamma = testing::random_tensor({d.n}, rng);
  Tensor residual = testing::random_tensor({d.m, d.n}, rng);
  Tensor dst = Tensor::empty({d.m, d.n});
  testing::poison(dst.view());
  const bool scaled = d.residual == Residual::ScaledAdd;
  const LinearPlan plan = LinearPlan::create(testing::test_engine(), d, weights.view(), bias.view(),
                                             scaled ? gamma.view() : ConstTensorView{});
  plan.run(src.view(), residual.view(), dst.view());
  LinearDesc plain = d;
  plain.residual = Residual::None;
  auto ref = reference::linear(plain, src.view(), weights.view(), bias.view());
  for (std::int64_t i = 0; i < d.m * d.n; ++i) {
    const auto u = static_cast<std::size_t>(i);
    const double g = scaled ? gamma.f32()[i % d.n] : 1.0, r = residual.f32()[i];
    ref.value[u] = r + g * ref.value[u];
    ref.magnitude[u] = std::abs(r) + std::abs(g) * ref.magnitude[u];
  }
  // As the plain test, plus one rounding each for the multiply and the add (2u of the magnitude).
  EXPECT_TRUE(all_close(key, dst.view(), ref, [&](double r, double mag, std::int64_t) {
    return 1.13 * testing::sum_tolerance(d.k + 2, mag) + testing::transcendental_tolerance(r, 4e-6);
  }));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, LinearResidualTest,
    ::testing::Values(
        LinearDesc{.m = 1, .k = 1, .n = 1, .residual = Residual::Add},
        LinearDesc{.m = 13, .k = 23, .n = 7, .bias = Bias::None, .residual = Residual::ScaledAdd},
        LinearDesc{.m = 57, .k = 384, .n = 96, .residual = Residual::ScaledAdd},
        LinearDesc{
            .m = 49, .k = 19, .n = 23, .act = Activation::GeluErf, .residual = Residual::ScaledAdd},
        LinearDesc{.m = 5, .k = 13, .n = 96, .act = Activation::Relu, .residual = Residual::Add}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

TEST(LinearKey, ResidualRoundTrips) {
  const LinearDesc d{.m = 49, .k = 384, .n = 96, .residual = Residual::ScaledAdd};
  EXPECT_EQ(to_string(d), "linear:m=49,k=384,n=96,bias=1,act=none,residual=layer_scale");
  EXPECT_EQ(parse_linear_desc(to_string(d)), d);
  EXPECT_EQ(cost(d).params, 96 * 384 + 96 + 96);
}

TEST(LinearErrors, ResidualGamma) {
  const Engine eng = testing::test_engine();
  Tensor w = Tensor::zeros({4, 3}), b = Tensor::zeros({4}), g = Tensor::zeros({3});
  try {
    LinearPlan::create(eng, {.m = 2, .k = 3, .n = 4, .residual = Residual::ScaledAdd}, w.view(),
                       b.view(), g.view());
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("gamma shape [3] must be [n=4]"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(LinearPlan::create(eng, {.m = 2, .k = 3, .n = 4, .residual = Residual::Add},
                                  w.view(), b.view(), g.view()),
               InvalidArgument);
  EXPECT_THROW(parse_linear_desc("linear:residual=scale"), InvalidArgument);
}

TEST(LinearKey, RoundTrips) {
  const LinearDesc d{.m = 3136, .k = 96, .n = 384, .bias = Bias::None, .act = Activation::GeluErf};
  EXPECT_EQ(to_string(d), "linear:m=3136,k=96,n=384,bias=0,act=gelu_erf");
  EXPECT_EQ(parse_linear_desc(to_string(d)), d);
}

TEST(LinearErrors, NameTheBadValue) {
  const Engine eng = testing::test_engine();
  Tensor w = Tensor::zeros({4, 3}), b = Tensor::zeros({4});
  try {
    LinearPlan::create(eng, {.m = 0, .k = 3, .n = 4}, w.view(), b.view());
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("m=0 must be >= 1"), std::string::npos) << e.what();
  }
  try {
    LinearPlan::create(eng, {.m = 2, .k = 5, .n = 4}, w.view(), b.view());
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("weights shape [4,3] must be [n=4, k=5]"), std::string::npos)
        << e.what();
  }
  Tensor w16 = Tensor::zeros({4, 3}, DType::BF16);
  EXPECT_THROW(LinearPlan::create(eng, {.m = 2, .k = 3, .n = 4}, w16.view(), b.view()), InvalidArgument);
  EXPECT_THROW(parse_linear_desc("linear:m=-3"), InvalidArgument);
  EXPECT_THROW(parse_linear_desc("linear:q=3"), InvalidArgument);
  EXPECT_THROW(parse_linear_desc("linear:act=gelu"), InvalidArgument);
}

}  // namespace
}  // namespace hwnas
