#include "kernels/ops/pool.hpp"

#include <gtest/gtest.h>

#include <functional>

#include "kernels/error.hpp"
#include "kernels/reference/pool_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::all_close;
using testing::fresh_seed;

// Max pooling returns one of its inputs: bitwise. Average pooling is a reduction: 1e-5 * |ref| +
// 1e-6 (STYLE.md §6).
testing::Tolerance tolerance(PoolAlg alg) {
  if (alg == PoolAlg::Max) return [](double, double, std::int64_t) { return 0.0; };
  return [](double ref, double, std::int64_t) { return testing::reduction_tolerance(ref); };
}

class PoolTest : public ::testing::TestWithParam<PoolDesc> {};

TEST_P(PoolTest, MatchesFloat64Reference) {
  const PoolDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor(pool_src_shape(d), rng);
  Tensor dst = Tensor::empty(pool_dst_shape(d));
  testing::poison(dst.view());
  const PoolPlan plan = PoolPlan::create(testing::test_engine(), d);
  plan.run(src.view(), dst.view());
  EXPECT_TRUE(all_close(key, dst.view(), reference::pool(d, src.view()), tolerance(d.alg)))
      << plan.impl_name();
}

constexpr PoolAlg kAvg = PoolAlg::Avg, kMax = PoolAlg::Max;
constexpr CountPad kInclude = CountPad::Include, kExclude = CountPad::Exclude;

// Laid out by hand: clang-format would spread each case over ten lines.
// clang-format off
INSTANTIATE_TEST_SUITE_P(
    Shapes, PoolTest,
    ::testing::Values(
        // PoolFormer's token mixer: 3x3, stride 1, pad 1, count_include_pad=False.
        PoolDesc{.alg = kAvg, .n = 1, .h = 57, .w = 57, .c = 19,
                 .kh = 3, .kw = 3, .stride = 1, .pad = 1},
        PoolDesc{.alg = kAvg, .n = 2, .h = 7, .w = 7, .c = 96,
                 .kh = 3, .kw = 3, .stride = 1, .pad = 1},
        PoolDesc{.alg = kAvg, .n = 1, .h = 1, .w = 1, .c = 3,
                 .kh = 3, .kw = 3, .stride = 1, .pad = 1},
        // PyTorch's default count_include_pad=True: border outputs shrink by 4/9 and 6/9.
        PoolDesc{.alg = kAvg, .n = 1, .h = 13, .w = 13, .c = 23,
                 .kh = 3, .kw = 3, .stride = 1, .pad = 1,
                 .count_include_pad = kInclude},
        PoolDesc{.alg = kAvg, .n = 1, .h = 1, .w = 1, .c = 1,
                 .kh = 3, .kw = 3, .stride = 1, .pad = 1,
                 .count_include_pad = kInclude},
        // Downsampling; 7 and 13 are odd, so the last row and column are dropped (floor).
        PoolDesc{.alg = kAvg, .n = 1, .h = 7, .w = 13, .c = 19, .kh = 2, .kw = 2, .stride = 2},
        PoolDesc{.alg = kAvg, .n = 1, .h = 13, .w = 13, .c = 3,
                 .kh = 3, .kw = 3, .stride = 2, .pad = 1,
                 .count_include_pad = kInclude},
        PoolDesc{.alg = kAvg, .n = 1, .h = 13, .w = 13, .c = 3,
                 .kh = 3, .kw = 3, .stride = 2, .pad = 1,
                 .count_include_pad = kExclude},
        // Rectangular kernel, a kernel as large as the padded input, a 7x7 window on a 7x7 plane.
        PoolDesc{.alg = kAvg, .n = 1, .h = 7, .w = 13, .c = 23,
                 .kh = 1, .kw = 3, .stride = 1, .pad = 0},
        PoolDesc{.alg = kAvg, .n = 1, .h = 3, .w = 3, .c = 19,
                 .kh = 5, .kw = 5, .stride = 1, .pad = 1},
        PoolDesc{.alg = kAvg, .n = 2, .h = 7, .w = 7, .c = 96,
                 .kh = 7, .kw = 7, .stride = 1, .pad = 3,
                 .count_include_pad = kInclude},
        // Max: the ResNet stem pool (3x3, stride 2, pad 1), 2x2 stride 2 dropping an edge, 1x1.
        PoolDesc{.alg = kMax, .n = 1, .h = 57, .w = 57, .c = 3,
                 .kh = 3, .kw = 3, .stride = 2, .pad = 1},
        PoolDesc{.alg = kMax, .n = 2, .h = 13, .w = 13, .c = 19,
                 .kh = 3, .kw = 3, .stride = 2, .pad = 1},
        PoolDesc{.alg = kMax, .n = 1, .h = 13, .w = 7, .c = 96, .kh = 2, .kw = 2, .stride = 2},
        PoolDesc{.alg = kMax, .n = 1, .h = 7, .w = 7, .c = 23,
                 .kh = 3, .kw = 3, .stride = 1, .pad = 1},
        PoolDesc{.alg = kMax, .n = 1, .h = 1, .w = 1, .c = 1, .kh = 1, .kw = 1, .stride = 1}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });
// clang-format on

// Every input negative: a max pool that padded with 0 instead of -inf would return 0 at the border.
TEST(Pool, MaxPadsWithMinusInfinity) {
  const PoolDesc d{
      .alg = kMax, .n = 1, .h = 7, .w = 7, .c = 19, .kh = 3, .kw = 3, .stride = 2, .pad = 1};
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor(pool_src_shape(d), rng, -2.f, -1.f);
  Tensor dst = Tensor::empty(pool_dst_shape(d));
  testing::poison(dst.view());
  PoolPlan::create(testing::test_engine(), d).run(src.view(), dst.view());
  EXPECT_TRUE(all_close(key, dst.view(), reference::pool(d, src.view()), tolerance(kMax)));
}

TEST(PoolShapes, FloorLikePyTorch) {
  EXPECT_EQ(
      pool_dst_shape({.n = 1, .h = 56, .w = 56, .c = 64, .kh = 3, .kw = 3, .stride = 1, .pad = 1}),
      (Shape{1, 56, 56, 64}));
  EXPECT_EQ(pool_dst_shape({.n = 1, .h = 7, .w = 13, .c = 8, .kh = 2, .kw = 2, .stride = 2}),
            (Shape{1, 3, 6, 8}));
  EXPECT_EQ(
      pool_dst_shape({.n = 2, .h = 112, .w = 112, .c = 8, .kh = 3, .kw = 3, .stride = 2, .pad = 1}),
      (Shape{2, 56, 56, 8}));
}

TEST(PoolKey, RoundTrips) {
  const PoolDesc d{
      .alg = kAvg, .n = 1, .h = 56, .w = 56, .c = 64, .kh = 3, .kw = 3, .stride = 1, .pad = 1};
  EXPECT_EQ(to_string(d),
            "pool:alg=avg,n=1,h=56,w=56,c=64,kh=3,kw=3,stride=1,pad=1,count_include_pad=0");
  EXPECT_EQ(parse_pool_desc(to_string(d)), d);
  PoolDesc e = d;
  e.count_include_pad = kInclude;
  EXPECT_EQ(parse_pool_desc(to_string(e)), e);
  // The defaults are PoolFormer's mixer.
  EXPECT_EQ(parse_pool_desc("pool:"), d);
}

TEST(PoolCost, WindowPerOutput) {
  const OpCost c = cost(PoolDesc{.n = 1, .h = 4, .w = 4, .c = 2, .kh = 2, .kw = 2, .stride = 2});
  EXPECT_EQ(c.flops, 2.0 * 2 * 2 * 4);
  EXPECT_EQ(c.bytes, 4.0 * (32 + 8));
  EXPECT_EQ(c.params, 0);
}

void expect_invalid(const PoolDesc& d, const std::string& substring) {
  try {
    PoolPlan::create(testing::test_engine(), d);
    ADD_FAILURE() << "expected InvalidArgument containing '" << substring << "' for "
                  << to_string(d);
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
  }
}

TEST(PoolErrors, NameTheBadValue) {
  const PoolDesc ok{.n = 1, .h = 8, .w = 8, .c = 4, .kh = 3, .kw = 3, .stride = 1, .pad = 1};
  const auto with = [&](const std::function<void(PoolDesc&)>& change) {
    PoolDesc d = ok;
    change(d);
    return d;
  };
  expect_invalid(with([](PoolDesc& d) { d.c = 0; }),
                 "pool: c=0 must be >= 1 [pool:alg=avg,n=1,h=8,w=8,c=0,kh=3,kw=3,stride=1,pad=1");
  expect_invalid(with([](PoolDesc& d) { d.stride = 0; }), "stride=0 must be >= 1");
  expect_invalid(with([](PoolDesc& d) { d.pad = -1; }), "pad=-1 must be >= 0");
  expect_invalid(with([](PoolDesc& d) { d.kh = 11; }),
                 "kh=11 is larger than the padded input h+2*pad=10");
  expect_invalid(with([](PoolDesc& d) { d.w = 1, d.pad = 0; }),
                 "kw=3 is larger than the padded input w+2*pad=1");
  expect_invalid(with([](PoolDesc& d) { d.pad = 2; }), "pad=2 must be at most kh/2=1");
  expect_invalid(with([](PoolDesc& d) { d.kh = 5, d.kw = 1; }), "pad=1 must be at most kw/2=0");
  expect_invalid(with([](PoolDesc& d) { d.alg = kMax, d.count_include_pad = kInclude; }),
                 "count_include_pad=1 applies only to alg=avg");
  EXPECT_THROW(parse_pool_desc("pool:alg=min"), InvalidArgument);
  EXPECT_THROW(parse_pool_desc("pool:count_include_pad=2"), InvalidArgument);
  EXPECT_THROW(parse_pool_desc("pool:stride=0"), InvalidArgument);
}

}  // namespace
}  // namespace hwnas
