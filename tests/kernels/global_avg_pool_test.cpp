#include "kernels/ops/global_avg_pool.hpp"

#include <gtest/gtest.h>

#include "kernels/error.hpp"
#include "kernels/reference/global_avg_pool_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::all_close;
using testing::fresh_seed;

// Reductions: 1e-5 * |ref| + 1e-6 per element (STYLE.md §6, testing::reduction_tolerance).
const testing::Tolerance kTolerance = [](double ref, double, std::int64_t) {
  return testing::reduction_tolerance(ref);
};

class GlobalAvgPoolTest : public ::testing::TestWithParam<GlobalAvgPoolDesc> {};

TEST_P(GlobalAvgPoolTest, MatchesFloat64Reference) {
  const GlobalAvgPoolDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  Tensor dst = Tensor::empty({d.n, d.c});
  testing::poison(dst.view());
  const GlobalAvgPoolPlan plan = GlobalAvgPoolPlan::create(testing::test_engine(), d);
  plan.run(src.view(), dst.view());
  EXPECT_TRUE(all_close(key, dst.view(), reference::global_avg_pool(d, src.view()), kTolerance))
      << plan.impl_name();
}

INSTANTIATE_TEST_SUITE_P(Shapes, GlobalAvgPoolTest,
                         ::testing::Values(GlobalAvgPoolDesc{.n = 1, .h = 1, .w = 1, .c = 1},
                                           GlobalAvgPoolDesc{.n = 2, .h = 3, .w = 3, .c = 23},
                                           GlobalAvgPoolDesc{.n = 2, .h = 7, .w = 13, .c = 19},
                                           GlobalAvgPoolDesc{.n = 1, .h = 13, .w = 13, .c = 3},
                                           GlobalAvgPoolDesc{.n = 1, .h = 57, .w = 57, .c = 96},
                                           // ConvNeXt-T / Swin-T head at 224x224.
                                           GlobalAvgPoolDesc{.n = 2, .h = 7, .w = 7, .c = 768}),
                         [](const auto& p) {
                           return testing::key_to_test_name(to_string(p.param));
                         });

// dst as [n, 1, 1, c], the squeeze-and-excitation view, is the same memory as [n, c].
TEST(GlobalAvgPool, AcceptsKeepdimDst) {
  const GlobalAvgPoolDesc d{.n = 2, .h = 7, .w = 7, .c = 19};
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  Tensor dst = Tensor::empty({d.n, 1, 1, d.c});
  testing::poison(dst.view());
  GlobalAvgPoolPlan::create(testing::test_engine(), d).run(src.view(), dst.view());
  EXPECT_TRUE(all_close(key, dst.view(), reference::global_avg_pool(d, src.view()), kTolerance));
}

TEST(GlobalAvgPoolKey, RoundTrips) {
  const GlobalAvgPoolDesc d{.n = 1, .h = 7, .w = 7, .c = 768};
  EXPECT_EQ(to_string(d), "global_avg_pool:n=1,h=7,w=7,c=768");
  EXPECT_EQ(parse_global_avg_pool_desc(to_string(d)), d);
}

TEST(GlobalAvgPoolCost, ReadsThePlaneOnce) {
  const OpCost c = cost(GlobalAvgPoolDesc{.n = 2, .h = 3, .w = 5, .c = 7});
  EXPECT_EQ(c.flops, 210.0 + 14.0);
  EXPECT_EQ(c.bytes, 4.0 * (210 + 14));
  EXPECT_EQ(c.params, 0);
}

TEST(GlobalAvgPoolErrors, NameTheBadValue) {
  try {
    GlobalAvgPoolPlan::create(testing::test_engine(), {.n = 1, .h = 7, .w = 0, .c = 8});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "global_avg_pool: w=0 must be >= 1 [global_avg_pool:n=1,h=7,w=0,c=8]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(parse_global_avg_pool_desc("global_avg_pool:c=0"), InvalidArgument);
  EXPECT_THROW(parse_global_avg_pool_desc("global_avg_pool:k=3"), InvalidArgument);
}

}  // namespace
}  // namespace hwnas
