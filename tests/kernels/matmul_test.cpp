#include "kernels/ops/matmul.hpp"

#include <gtest/gtest.h>

#include <limits>

#include "kernels/error.hpp"
#include "kernels/reference/matmul_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::all_close;
using testing::fresh_seed;

// Pre-activation error: Higham's bound for a length-k dot product; the scale is one more rounded
// product, which gamma(k + 1) in sum_tolerance already covers (|scale * sum| <= magnitude). Every
// fused activation has |f'| <= 1.13 and adds its own evaluation error, 4e-5 relative at worst
// (tanh-GELU / SiLU).
double real_tolerance(const MatmulDesc& d, double ref, double magnitude) {
  return 1.13 * testing::sum_tolerance(d.k, magnitude) +
         testing::transcendental_tolerance(ref, 4e-5);
}

class MatmulTest : public ::testing::TestWithParam<MatmulDesc> {};

TEST_P(MatmulTest, MatchesFloat64Reference) {
  const MatmulDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor(matmul_src_shape(d), rng);
  Tensor weights = testing::random_tensor(matmul_weights_shape(d), rng);
  Tensor dst = Tensor::empty(matmul_dst_shape(d));
  testing::poison(dst.view());

  const MatmulPlan plan = MatmulPlan::create(testing::test_engine(), d);
  plan.run(src.view(), weights.view(), dst.view());
  const auto ref = reference::matmul(d, src.view(), weights.view());
  EXPECT_TRUE(all_close(key, dst.view(), ref, [&](double r, double mag, std::int64_t) {
    return real_tolerance(d, r, mag);
  })) << plan.impl_name();
}

TEST_P(MatmulTest, ExactOnIntegers) {
  MatmulDesc d = GetParam();
  // The exact tier needs every step exact: no scale (1/sqrt(k) is not a short binary fraction) and
  // an exact activation (none stays none, the others become relu).
  d.scale = 1.f;
  if (d.act != Activation::None) d.act = Activation::Relu;
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = Tensor::empty(matmul_src_shape(d)), weights = Tensor::empty(matmul_weights_shape(d)),
         dst = Tensor::empty(matmul_dst_shape(d));
  testing::fill_integers(src.view(), rng);
  testing::fill_integers(weights.view(), rng);
  testing::poison(dst.view());
  MatmulPlan::create(testing::test_engine(), d).run(src.view(), weights.view(), dst.view());
  const auto ref = reference::matmul(d, src.view(), weights.view());
  EXPECT_TRUE(all_close(key, dst.view(), ref, [](double, double, std::int64_t) { return 0.0; }));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MatmulTest,
    ::testing::Values(
        MatmulDesc{.b = 1, .m = 1, .k = 1, .n = 1},
        MatmulDesc{.b = 1, .m = 1, .k = 1, .n = 1, .trans_b = Transpose::Yes},
        MatmulDesc{.b = 3, .m = 13, .k = 23, .n = 7},
        MatmulDesc{
            .b = 2, .m = 7, .k = 19, .n = 23, .trans_b = Transpose::Yes, .scale = rsqrt_scale(19)},
        MatmulDesc{.b = 5, .m = 3, .k = 96, .n = 1, .trans_b = Transpose::Yes},
        MatmulDesc{.b = 1, .m = 57, .k = 3, .n = 13, .scale = -0.75f, .act = Activation::Relu},
        // Swin window attention, one window per head of a 2-window batch: Q.K^T then P.V.
        MatmulDesc{
            .b = 6, .m = 49, .k = 32, .n = 49, .trans_b = Transpose::Yes, .scale = rsqrt_scale(32)},
        MatmulDesc{.b = 6, .m = 49, .k = 49, .n = 32},
        MatmulDesc{.b = 2, .m = 13, .k = 57, .n = 19, .act = Activation::GeluErf},
        MatmulDesc{.b = 3,
                   .m = 7,
                   .k = 13,
                   .n = 3,
                   .trans_b = Transpose::Yes,
                   .scale = 0.5f,
                   .act = Activation::GeluTanh},
        MatmulDesc{.b = 2, .m = 3, .k = 23, .n = 96, .act = Activation::Silu},
        MatmulDesc{.b = 1,
                   .m = 19,
                   .k = 7,
                   .n = 13,
                   .trans_b = Transpose::Yes,
                   .act = Activation::Hardswish}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// Attention reads Q, K and V in place from the qkv projection [B, N, 3, heads, d] and writes P.V
// straight into token order [B, N, heads, d]: rank-5 views, none of them contiguous.
TEST(MatmulStrided, AttentionInPlaceOnQkv) {
  const std::int64_t batch = 2, tokens = 13, heads = 3, head_dim = 19;
  const MatmulDesc scores_desc{.b = batch * heads,
                               .m = tokens,
                               .k = head_dim,
                               .n = tokens,
                               .trans_b = Transpose::Yes,
                               .scale = rsqrt_scale(head_dim)};
  const MatmulDesc out_desc{.b = batch * heads, .m = tokens, .k = tokens, .n = head_dim};
  const std::string key = to_string(scores_desc) + " then " + to_string(out_desc);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor qkv = testing::random_tensor({batch, tokens, 3, heads, head_dim}, rng);
  // [B, N, 1, heads, d] -> [B, 1, heads, N, d]
  const auto part = [&](int i) { return qkv.cview().slice(2, i, i + 1).permute({0, 2, 3, 1, 4}); };
  const ConstTensorView q = part(0), k = part(1), v = part(2);
  ASSERT_FALSE(q.is_contiguous());

  Tensor scores = Tensor::empty({batch, 1, heads, tokens, tokens});
  testing::poison(scores.view());
  const MatmulPlan scores_plan = MatmulPlan::create(testing::test_engine(), scores_desc,
                                                    {.src = ViewLayout::of(q),
                                                     .weights = ViewLayout::of(k),
                                                     .dst = ViewLayout::of(scores.cview())});
  scores_plan.run(q, k, scores.view());
  const auto scores_ref = reference::matmul(scores_desc, q, k);
  EXPECT_TRUE(all_close(
      to_string(scores_desc), scores.view(), scores_ref,
      [&](double r, double mag, std::int64_t) { return real_tolerance(scores_desc, r, mag); }))
      << scores_plan.impl_name();

  // P . V into [B, N, heads, d], seen as [B, 1, heads, N, d].
  Tensor out = Tensor::empty({batch, tokens, 1, heads, head_dim});
  testing::poison(out.view());
  const TensorView out_view = out.view().permute({0, 2, 3, 1, 4});
  const MatmulPlan out_plan = MatmulPlan::create(testing::test_engine(), out_desc,
                                                 {.src = ViewLayout::of(scores.cview()),
                                                  .weights = ViewLayout::of(v),
                                                  .dst = ViewLayout::of(out_view)});
  out_plan.run(scores.cview(), v, out_view);
  const auto out_ref = reference::matmul(out_desc, scores.cview(), v);
  EXPECT_TRUE(all_close(
      to_string(out_desc), out_view, out_ref,
      [&](double r, double mag, std::int64_t) { return real_tolerance(out_desc, r, mag); }))
      << out_plan.impl_name();
}

// Rank-3 views with every kind of stride: src stored transposed ([b, k, m] memory), weights with a
// padded row pitch (a slice of wider rows), dst with its batch axis innermost.
TEST(MatmulStrided, TransposedPaddedAndPermutedViews) {
  for (const Transpose trans_b : {Transpose::No, Transpose::Yes}) {
    const MatmulDesc d{.b = 3, .m = 13, .k = 23, .n = 7, .trans_b = trans_b, .scale = 0.25f};
    const std::string key = to_string(d);
    std::mt19937_64 rng(fresh_seed(key));
    Tensor src_store = testing::random_tensor({d.b, d.k, d.m}, rng);
    const ConstTensorView src = src_store.cview().permute({0, 2, 1});
    const Shape weights_shape = matmul_weights_shape(d);
    Tensor weights_store =
        testing::random_tensor({d.b, weights_shape[1], weights_shape[2] + 5}, rng);
    const ConstTensorView weights = weights_store.cview().slice(2, 2, 2 + weights_shape[2]);
    Tensor dst_store = Tensor::empty({d.m, d.n, d.b});
    testing::poison(dst_store.view());
    const TensorView dst = dst_store.view().permute({2, 0, 1});

    const MatmulPlan plan = MatmulPlan::create(testing::test_engine(), d,
                                               {.src = ViewLayout::of(src),
                                                .weights = ViewLayout::of(weights),
                                                .dst = ViewLayout::of(dst)});
    plan.run(src, weights, dst);
    const auto ref = reference::matmul(d, src, weights);
    EXPECT_TRUE(all_close(key, dst, ref, [&](double r, double mag, std::int64_t) {
      return real_tolerance(d, r, mag);
    })) << plan.impl_name();
  }
}

TEST(MatmulKey, RoundTrips) {
  const MatmulDesc d{.b = 192,
                     .m = 49,
                     .k = 32,
                     .n = 49,
                     .trans_b = Transpose::Yes,
                     .scale = rsqrt_scale(32),
                     .act = Activation::GeluErf};
  EXPECT_EQ(to_string(d), "matmul:b=192,m=49,k=32,n=49,trans_b=1,scale=0.17677669,act=gelu_erf");
  EXPECT_EQ(parse_matmul_desc(to_string(d)), d);
  // Scales that have no short decimal still come back as the same float.
  for (const float scale : {rsqrt_scale(3), rsqrt_scale(96), 1.f / 3.f, -1e-7f, 12345.678f}) {
    const MatmulDesc e{.scale = scale};
    EXPECT_EQ(parse_matmul_desc(to_string(e)).scale, scale) << to_string(e);
  }
  EXPECT_EQ(parse_matmul_desc("matmul:b=2,scale=1e-1").scale, 0.1f);
  EXPECT_EQ(to_string(parse_matmul_desc("matmul:b=2")),
            "matmul:b=2,m=49,k=32,n=49,trans_b=1,scale=1,act=none");
}

TEST(MatmulCost, CountsMultiplyAddsAndOperands) {
  const OpCost c = cost(MatmulDesc{.b = 2, .m = 3, .k = 5, .n = 7});
  EXPECT_EQ(c.flops, 2.0 * 2 * 3 * 5 * 7);
  EXPECT_EQ(c.bytes, 4.0 * 2 * (3 * 5 + 5 * 7 + 3 * 7));
  EXPECT_EQ(c.params, 0);
}

void expect_invalid(const MatmulDesc& d, const MatmulLayout& layout, const std::string& needle) {
  try {
    MatmulPlan::create(testing::test_engine(), d, layout);
    ADD_FAILURE() << "expected InvalidArgument containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[matmul:"), std::string::npos)
        << "no key in: " << e.what();
  }
}

TEST(MatmulErrors, NameTheBadValue) {
  const MatmulDesc d{.b = 2, .m = 3, .k = 5, .n = 7};
  expect_invalid({.b = 0, .m = 3, .k = 5, .n = 7}, {}, "b=0 must be >= 1");
  expect_invalid({.b = 2, .m = 3, .k = -5, .n = 7}, {}, "k=-5 must be >= 1");
  expect_invalid({.b = 2, .m = 3, .k = 5, .n = 7, .scale = std::numeric_limits<float>::infinity()},
                 {}, "scale=inf must be finite");
  expect_invalid({.b = 2, .m = 3, .k = 5, .n = 7, .act = Activation::StarRelu}, {},
                 "act=star_relu");
  expect_invalid(d, {.src = ViewLayout::dense({2, 3, 5}, DType::BF16)},
                 "src dtype=bf16 is unsupported");
  expect_invalid(d, {.weights = ViewLayout::dense({2, 7, 5})}, "weights shape [2,7,5] must be");
  expect_invalid(d, {.src = {.shape = {-2, -1, 3, 5}, .strides = {15, 15, 5, 1}}},
                 "src shape [-2,-1,3,5] has extent -2 < 1 on axis 0");
  expect_invalid(d, {.src = ViewLayout::dense({3, 5})},
                 "src layout [3,5] strides [5,1] f32 has rank 2");
  expect_invalid(d, {.dst = ViewLayout::dense({1, 3, 7})}, "batch axes multiplying to b=2");
  // Same batch count, different batch axes: [2, 1] against [1, 2].
  expect_invalid(d,
                 {.src = ViewLayout::dense({2, 1, 3, 5}),
                  .weights = ViewLayout::dense({1, 2, 5, 7}),
                  .dst = ViewLayout::dense({2, 1, 3, 7})},
                 "batch axes of [2,1,3,5] and [1,2,5,7] must be equal");
  expect_invalid(d, {.dst = {.shape = {2, 3, 7}, .strides = {21, 1, 1}}},
                 "dst layout [2,3,7] strides [21,1,1] f32 overlaps");
  expect_invalid(d, {.src = {.shape = {2, 3, 5}, .strides = {15, 5, -1}}},
                 "stride -1 < 0 on axis 2");

  EXPECT_THROW(parse_matmul_desc("matmul:m=0"), InvalidArgument);
  EXPECT_THROW(parse_matmul_desc("matmul:scale=nan"), InvalidArgument);
  EXPECT_THROW(parse_matmul_desc("matmul:scale=0.5x"), InvalidArgument);
  EXPECT_THROW(parse_matmul_desc("matmul:trans_b=2"), InvalidArgument);
  EXPECT_THROW(parse_matmul_desc("matmul:act=star_relu"), InvalidArgument);
  EXPECT_THROW(parse_matmul_desc("linear:m=3"), InvalidArgument);
}

}  // namespace
}  // namespace hwnas
