// PoolFormer's pooling mixer and IdentityFormer's identity against their float64 references at odd
// sizes (windows larger than the map included), plus error messages and the cost model.
#include "kernels/mixers/pool_mixer.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/identity.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/identity_ref.hpp"
#include "kernels/reference/pool_mixer_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

testing::Tolerance mixer_tolerance(const std::string& name) {
  const double tol = find_mixer(name).tolerance;
  return [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); };
}

std::string error_of(const std::string& name, std::vector<std::string> words) {
  const MixerEntry& entry = find_mixer(name);
  try {
    entry.check(Params::parse(entry.name, entry.params, words));
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "no throw";
}

class PoolMixerTest : public ::testing::TestWithParam<PoolMixerDesc> {};

TEST_P(PoolMixerTest, MatchesFloat64Reference) {
  const PoolMixerDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  PoolMixerPlan::create(testing::test_engine(), d, {}).run(src.cview(), dst.view());
  EXPECT_TRUE(testing::all_close(key, dst.cview(), reference::pool_mixer(d, src.cview(), {}),
                                 mixer_tolerance("pool_mixer")));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PoolMixerTest,
    ::testing::Values(PoolMixerDesc{.n = 2, .h = 13, .w = 7, .c = 96, .pool = 3},
                      PoolMixerDesc{.n = 1, .h = 1, .w = 1, .c = 5, .pool = 3},
                      PoolMixerDesc{.n = 2, .h = 5, .w = 14, .c = 19, .pool = 5},
                      PoolMixerDesc{.n = 1, .h = 7, .w = 5, .c = 33, .pool = 9},
                      PoolMixerDesc{.n = 1, .h = 14, .w = 13, .c = 17, .pool = 1},
                      PoolMixerDesc{.n = 1, .h = 56, .w = 56, .c = 24, .pool = 3}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// At a corner a 3x3 window covers 2x2 pixels: the divisor is 4, not 9 (count_include_pad=False).
TEST(PoolMixer, CornerAveragesOnlyInsidePixels) {
  const PoolMixerDesc d{.n = 1, .h = 3, .w = 3, .c = 1, .pool = 3};
  Tensor src = Tensor::empty({1, 3, 3, 1});
  for (int i = 0; i < 9; ++i) src.f32()[i] = static_cast<float>(i);
  Tensor dst = Tensor::empty({1, 3, 3, 1});
  PoolMixerPlan::create(testing::test_engine(), d, {}).run(src.cview(), dst.view());
  EXPECT_FLOAT_EQ(dst.f32()[0], (0 + 1 + 3 + 4) / 4.f - 0);
  EXPECT_NEAR(dst.f32()[4], 36 / 9.f - 4, 1e-6);
  EXPECT_FLOAT_EQ(dst.f32()[5], (1 + 2 + 4 + 5 + 7 + 8) / 6.f - 5);
}

TEST(PoolMixer, RefusesEvenPoolNamingTheValue) {
  EXPECT_NE(error_of("pool_mixer", {"pool=4"}).find("pool=4 must be odd"), std::string::npos)
      << error_of("pool_mixer", {"pool=4"});
  EXPECT_NE(error_of("pool_mixer", {"pool=0"}).find("pool"), std::string::npos);
  EXPECT_EQ(error_of("pool_mixer", {"pool=7"}), "no throw");
}

TEST(PoolMixer, CostHasNoParams) {
  const OpCost c = cost(PoolMixerDesc{.n = 1, .h = 56, .w = 56, .c = 96, .pool = 3});
  EXPECT_DOUBLE_EQ(c.flops, 56.0 * 56 * 96 * 10);
  EXPECT_DOUBLE_EQ(c.bytes, 4.0 * 2 * 56 * 56 * 96);
  EXPECT_EQ(c.params, 0);
  EXPECT_TRUE(weight_specs(PoolMixerDesc{}).empty());
}

TEST(Identity, CopiesEveryElement) {
  for (const IdentityDesc d :
       {IdentityDesc{.n = 2, .h = 13, .w = 5, .c = 7}, IdentityDesc{.n = 1, .h = 1, .w = 1, .c = 1},
        IdentityDesc{.n = 1, .h = 7, .w = 7, .c = 768}}) {
    const std::string key = to_string(d);
    std::mt19937_64 rng(testing::fresh_seed(key));
    const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
    Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
    testing::poison(dst.view());
    IdentityPlan::create(testing::test_engine(), d, {}).run(src.cview(), dst.view());
    EXPECT_TRUE(testing::all_close(key, dst.cview(), reference::identity(d, src.cview(), {}),
                                   [](double, double, std::int64_t) { return 0.0; }));
  }
  EXPECT_EQ(cost(IdentityDesc{}).flops, 0.0);
  EXPECT_NE(error_of("identity", {"c=0"}).find("c"), std::string::npos);
}

}  // namespace
}  // namespace hwnas
