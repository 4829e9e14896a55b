// RandFormer's random token mixing against its float64 reference at odd sizes and batch 2, plus
// the weight's size-dependent shape and the cost model.
#include "kernels/mixers/random_mixing.hpp"

#include <gtest/gtest.h>

#include <string>

#include "kernels/error.hpp"
#include "kernels/reference/random_mixing_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

class RandomMixingTest : public ::testing::TestWithParam<RandomMixingDesc> {};

TEST_P(RandomMixingTest, MatchesFloat64Reference) {
  const RandomMixingDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  RandomMixingPlan::create(testing::test_engine(), d, w.views).run(src.cview(), dst.view());
  const std::int64_t tokens = d.h * d.w;
  EXPECT_TRUE(testing::all_close(key, dst.cview(),
                                 reference::random_mixing(d, src.cview(), w.views),
                                 [tokens](double, double mag, std::int64_t) {
                                   return testing::sum_tolerance(tokens, std::max(mag, 1.0));
                                 }));
}

INSTANTIATE_TEST_SUITE_P(Shapes, RandomMixingTest,
                         ::testing::Values(RandomMixingDesc{.n = 2, .h = 7, .w = 5, .c = 96},
                                           RandomMixingDesc{.n = 1, .h = 1, .w = 1, .c = 3},
                                           RandomMixingDesc{.n = 2, .h = 14, .w = 14, .c = 19},
                                           RandomMixingDesc{.n = 1, .h = 13, .w = 1, .c = 33}),
                         [](const auto& p) {
                           return testing::key_to_test_name(to_string(p.param));
                         });

// W's rows index output tokens: a matrix that moves token j to token m = N - 1 - j reverses the
// token order of every channel.
TEST(RandomMixing, AppliesTheMatrixAsStored) {
  const RandomMixingDesc d{.n = 2, .h = 3, .w = 2, .c = 4};
  const std::int64_t tokens = 6;
  Tensor matrix = Tensor::zeros({tokens, tokens});
  for (std::int64_t m = 0; m < tokens; ++m) matrix.f32()[m * tokens + (tokens - 1 - m)] = 1.f;
  MixerWeights w;
  w.set("random_matrix", matrix.cview());
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  RandomMixingPlan::create(testing::test_engine(), d, w).run(src.cview(), dst.view());
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t m = 0; m < tokens; ++m) {
      for (std::int64_t ch = 0; ch < d.c; ++ch) {
        ASSERT_EQ(dst.f32()[(b * tokens + m) * d.c + ch],
                  src.f32()[(b * tokens + tokens - 1 - m) * d.c + ch]);
      }
    }
  }
}

TEST(RandomMixing, WeightShapeFollowsTheMapAndIsNotLearnable) {
  const RandomMixingDesc d{.n = 1, .h = 14, .w = 14, .c = 384};
  EXPECT_EQ(weight_specs(d)[0].shape, Shape({196, 196}));
  const OpCost c = cost(d);
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 196 * 196 * 384);
  EXPECT_EQ(c.params, 0);
  EXPECT_DOUBLE_EQ(c.bytes, 4.0 * (2.0 * 196 * 384 + 196 * 196));
}

}  // namespace
}  // namespace hwnas
