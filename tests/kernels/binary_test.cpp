#include "kernels/ops/binary.hpp"

#include <gtest/gtest.h>

#include "kernels/error.hpp"
#include "kernels/reference/binary_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::all_close;
using testing::fresh_seed;

// Exact: one f32 add or multiply rounds the exact result once, and rounding the float64 reference
// (exact for a product of two floats, and double-rounding-safe for a sum since 53 >= 2*24 + 2)
// gives the same float. So the tolerance is 0 against the reference rounded to f32.
const testing::Tolerance kExact = [](double, double, std::int64_t) { return 0.0; };

reference::RefOutput rounded_to_f32(reference::RefOutput ref) {
  for (double& v : ref.value) v = static_cast<float>(v);
  return ref;
}

class BinaryTest : public ::testing::TestWithParam<BinaryDesc> {};

TEST_P(BinaryTest, BitwiseEqualToRoundedReference) {
  const BinaryDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src0 = testing::random_tensor(binary_src0_shape(d), rng);
  Tensor src1 = testing::random_tensor(binary_src1_shape(d), rng);
  Tensor dst = Tensor::empty(binary_src0_shape(d));
  testing::poison(dst.view());
  const BinaryPlan plan = BinaryPlan::create(testing::test_engine(), d);
  plan.run(src0.view(), src1.view(), dst.view());
  EXPECT_TRUE(all_close(key, dst.view(),
                        rounded_to_f32(reference::binary(d, src0.view(), src1.view())), kExact))
      << plan.impl_name();
}

// The residual add of every block writes into its input.
TEST_P(BinaryTest, InPlaceOverSrc0) {
  const BinaryDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor data = testing::random_tensor(binary_src0_shape(d), rng);
  Tensor src1 = testing::random_tensor(binary_src1_shape(d), rng);
  const auto ref = rounded_to_f32(reference::binary(d, data.view(), src1.view()));
  BinaryPlan::create(testing::test_engine(), d).run(data.view(), src1.view(), data.view());
  EXPECT_TRUE(all_close(key, data.view(), ref, kExact));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, BinaryTest,
    ::testing::Values(
        BinaryDesc{.alg = BinaryAlg::Add, .n = 1, .h = 1, .w = 1, .c = 1, .src1 = "nhwc"},
        BinaryDesc{.alg = BinaryAlg::Mul, .n = 1, .h = 1, .w = 1, .c = 1, .src1 = "1"},
        // Residual add.
        BinaryDesc{.alg = BinaryAlg::Add, .n = 2, .h = 13, .w = 13, .c = 19, .src1 = "nhwc"},
        BinaryDesc{.alg = BinaryAlg::Add, .n = 1, .h = 57, .w = 57, .c = 3, .src1 = "nhwc"},
        // Layer scale / per-channel bias.
        BinaryDesc{.alg = BinaryAlg::Mul, .n = 2, .h = 7, .w = 7, .c = 96, .src1 = "c"},
        BinaryDesc{.alg = BinaryAlg::Mul, .n = 1, .h = 57, .w = 57, .c = 3, .src1 = "c"},
        BinaryDesc{.alg = BinaryAlg::Add, .n = 1, .h = 13, .w = 7, .c = 23, .src1 = "c"},
        // Squeeze-and-excitation gating.
        BinaryDesc{.alg = BinaryAlg::Mul, .n = 2, .h = 7, .w = 7, .c = 96, .src1 = "nc"},
        BinaryDesc{.alg = BinaryAlg::Mul, .n = 3, .h = 3, .w = 3, .c = 19, .src1 = "nc"},
        // Position embedding, spatial gating, scalar, an odd subset.
        BinaryDesc{.alg = BinaryAlg::Add, .n = 2, .h = 7, .w = 13, .c = 19, .src1 = "hwc"},
        BinaryDesc{.alg = BinaryAlg::Mul, .n = 2, .h = 7, .w = 7, .c = 23, .src1 = "nhw"},
        BinaryDesc{.alg = BinaryAlg::Mul, .n = 1, .h = 13, .w = 13, .c = 96, .src1 = "1"},
        BinaryDesc{.alg = BinaryAlg::Add, .n = 3, .h = 7, .w = 3, .c = 23, .src1 = "hc"}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

TEST(BinaryKey, RoundTrips) {
  const BinaryDesc d{.alg = BinaryAlg::Mul, .n = 1, .h = 56, .w = 56, .c = 96, .src1 = "c"};
  EXPECT_EQ(to_string(d), "binary:alg=mul,n=1,h=56,w=56,c=96,src1=c");
  EXPECT_EQ(parse_binary_desc(to_string(d)), d);
  for (std::string_view axes : kBinarySrc1Axes) {
    const BinaryDesc e{.n = 2, .h = 3, .w = 5, .c = 7, .src1 = std::string(axes)};
    EXPECT_EQ(parse_binary_desc(to_string(e)), e);
  }
}

TEST(BinaryShapes, Src1KeepsTheNamedAxes) {
  const BinaryDesc d{.n = 2, .h = 3, .w = 5, .c = 7};
  const auto with = [&](std::string axes) {
    BinaryDesc e = d;
    e.src1 = std::move(axes);
    return binary_src1_shape(e);
  };
  EXPECT_EQ(with("nhwc"), (Shape{2, 3, 5, 7}));
  EXPECT_EQ(with("c"), (Shape{1, 1, 1, 7}));
  EXPECT_EQ(with("nc"), (Shape{2, 1, 1, 7}));
  EXPECT_EQ(with("hw"), (Shape{1, 3, 5, 1}));
  EXPECT_EQ(with("1"), (Shape{1, 1, 1, 1}));
  EXPECT_EQ(binary_src0_shape(d), (Shape{2, 3, 5, 7}));
}

TEST(BinaryCost, ReadsBothWritesOne) {
  const OpCost c = cost(BinaryDesc{.n = 2, .h = 3, .w = 5, .c = 7, .src1 = "c"});
  EXPECT_EQ(c.flops, 210.0);
  EXPECT_EQ(c.bytes, 4.0 * (2 * 210 + 7));
  EXPECT_EQ(c.params, 0);
}

TEST(BinaryErrors, NameTheBadValue) {
  const Engine eng = testing::test_engine();
  try {
    BinaryPlan::create(eng, {.n = 1, .h = 0, .w = 3, .c = 4});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "binary: h=0 must be >= 1 [binary:alg=add,n=1,h=0,w=3,c=4,src1=nhwc]"),
              std::string::npos)
        << e.what();
  }
  try {
    BinaryPlan::create(eng, {.n = 1, .h = 2, .w = 3, .c = 4, .src1 = "cn"});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("src1=cn must be one of nhwc"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(parse_binary_desc("binary:alg=sub"), InvalidArgument);
  EXPECT_THROW(parse_binary_desc("binary:src1=x"), InvalidArgument);
  EXPECT_THROW(parse_binary_desc("binary:c=-4"), InvalidArgument);
}

}  // namespace
}  // namespace hwnas
