#include "kernels/mixers/linear_attention.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/linear_attention_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

// The mixer's stated tolerance (kTolerance in linear_attention.cpp, derived there).
testing::Tolerance scaled_tolerance() {
  const double tol = find_mixer("linear_attention").tolerance;
  return [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); };
}

class LinearAttentionTest : public ::testing::TestWithParam<LinearAttentionDesc> {};

TEST_P(LinearAttentionTest, MatchesFloat64Reference) {
  const LinearAttentionDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  const LinearAttentionPlan plan = LinearAttentionPlan::create(testing::test_engine(), d, w.views);
  plan.run(src.cview(), dst.view());
  EXPECT_TRUE(testing::all_close(
      key, dst.cview(), reference::linear_attention(d, src.cview(), w.views), scaled_tolerance()))
      << plan.impl_name();
}

// Head dims 16, 32, 48, 64 (the register-blocked AVX-512 kernels) and 4, 12 (the portable loops),
// both feature maps, local kernels 3..13 (13 wider than a 1-wide map), odd maps, batch 2, fewer
// tokens than threads' worth of work, with and without qkv bias.
INSTANTIATE_TEST_SUITE_P(
    Shapes, LinearAttentionTest,
    ::testing::Values(
        LinearAttentionDesc{.n = 2, .h = 13, .w = 14, .c = 96, .heads = 3},
        LinearAttentionDesc{.n = 1,
                            .h = 7,
                            .w = 7,
                            .c = 48,
                            .heads = 3,
                            .feature_map = FeatureMap::Relu,
                            .local_kernel = 3},
        LinearAttentionDesc{.n = 2,
                            .h = 5,
                            .w = 13,
                            .c = 24,
                            .heads = 2,
                            .local_kernel = 5,
                            .qkv_bias = Bias::None},
        LinearAttentionDesc{.n = 1,
                            .h = 1,
                            .w = 1,
                            .c = 64,
                            .heads = 1,
                            .feature_map = FeatureMap::Relu,
                            .local_kernel = 3},
        LinearAttentionDesc{.n = 1, .h = 14, .w = 14, .c = 144, .heads = 3, .local_kernel = 7},
        LinearAttentionDesc{.n = 1, .h = 14, .w = 14, .c = 384, .heads = 12},
        LinearAttentionDesc{.n = 1,
                            .h = 13,
                            .w = 1,
                            .c = 20,
                            .heads = 5,
                            .feature_map = FeatureMap::Relu,
                            .local_kernel = 13},
        LinearAttentionDesc{
            .n = 2, .h = 1, .w = 5, .c = 32, .heads = 1, .feature_map = FeatureMap::Relu}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// relu can zero every feature of a query: the denominator is then eps alone and the numerator 0,
// so the attention output is 0 (not NaN) and dst = proj.bias + proj(DWC(v)).
TEST(LinearAttention, ReluWithAllZeroQueryFeaturesStaysFinite) {
  const LinearAttentionDesc d{.n = 1,
                              .h = 5,
                              .w = 7,
                              .c = 32,
                              .heads = 2,
                              .feature_map = FeatureMap::Relu,
                              .local_kernel = 3};
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  RandomWeights w = make_random_weights(weight_specs(d), rng);
  Tensor qkv_w = Tensor::copy_of(w.views.get("qkv.weight", key));
  Tensor qkv_b = Tensor::copy_of(w.views.get("qkv.bias", key));
  for (std::int64_t j = 0; j < d.c; ++j) {  // the q rows: q = -1 for every token
    for (std::int64_t i = 0; i < d.c; ++i) qkv_w.f32()[j * d.c + i] = 0.f;
    qkv_b.f32()[j] = -1.f;
  }
  w.views.set("qkv.weight", qkv_w.cview());
  w.views.set("qkv.bias", qkv_b.cview());
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  const LinearAttentionPlan plan = LinearAttentionPlan::create(testing::test_engine(), d, w.views);
  plan.run(src.cview(), dst.view());
  EXPECT_TRUE(testing::all_close(
      key, dst.cview(), reference::linear_attention(d, src.cview(), w.views), scaled_tolerance()));
}

void expect_invalid(const LinearAttentionDesc& d, const std::string& substring) {
  try {
    check(d);
    FAIL() << "no throw for " << to_string(d);
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(to_string(d)), std::string::npos) << e.what();
  }
}

TEST(LinearAttention, RefusesInvalidDescs) {
  expect_invalid({.c = 96, .heads = 5}, "heads=5 must divide c=96");
  expect_invalid({.local_kernel = 4}, "local_kernel=4 must be 0 (none) or odd in 3..13");
  expect_invalid({.local_kernel = 1}, "local_kernel=1 must be 0 (none) or odd in 3..13");
  expect_invalid({.local_kernel = 15}, "local_kernel=15 must be 0 (none) or odd in 3..13");
  expect_invalid({.w = 0}, "w=0 must be >= 1");
  const MixerEntry& entry = find_mixer("linear_attention");
  const std::vector<std::string> words = {"feature_map=gelu"};
  try {
    Params::parse("linear_attention", entry.params, words);
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("gelu"), std::string::npos) << e.what();
  }
}

TEST(LinearAttention, KeyParsesBack) {
  const MixerEntry& entry = find_mixer("linear_attention");
  const std::vector<std::string> words = {"feature_map=relu", "local_kernel=5", "qkv_bias=0"};
  const LinearAttentionDesc d =
      linear_attention_desc_from(Params::parse("linear_attention", entry.params, words));
  EXPECT_EQ(to_string(d),
            "linear_attention:n=1,h=56,w=56,c=96,heads=3,feature_map=relu,local_kernel=5,"
            "qkv_bias=0");
  EXPECT_EQ(
      linear_attention_desc_from(Params::from_key("linear_attention", entry.params, to_string(d))),
      d);
}

// Stage 1 (56x56x96, 3 heads of 32): projections 2*N*c*4c, attention 2*N*d*d*2 per head, DWC
// 2*N*c*k*k; linear in N.
TEST(LinearAttention, CostIsTheLinearAttentionCount) {
  const LinearAttentionDesc d{.n = 1, .h = 56, .w = 56, .c = 96, .heads = 3, .local_kernel = 3};
  const double tokens = 56.0 * 56.0;
  const OpCost cost_value = cost(d);
  EXPECT_DOUBLE_EQ(cost_value.flops, 2.0 * tokens * 96 * 384 + 3 * 2.0 * tokens * 32 * 32 * 2 +
                                         2.0 * tokens * 96 * 9);
  EXPECT_EQ(cost_value.params, 3 * 96 * 96 + 3 * 96 + 96 * 96 + 96 + 96 * 9 + 96);
  LinearAttentionDesc twice = d;
  twice.n = 2;
  EXPECT_DOUBLE_EQ(cost(twice).flops, 2 * cost_value.flops);
}

}  // namespace
}  // namespace hwnas
