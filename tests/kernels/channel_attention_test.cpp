// DaViT channel attention against its float64 reference at odd sizes and head counts, with and
// without the qkv bias, plus error messages and the cost model.
#include "kernels/mixers/channel_attention.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/channel_attention_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

testing::Tolerance mixer_tolerance() {
  const double tol = find_mixer("channel_attention").tolerance;
  return [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); };
}

Tensor run_plan(const ChannelAttentionDesc& d, const ConstTensorView& src, const MixerWeights& w) {
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  ChannelAttentionPlan::create(testing::test_engine(), d, w).run(src, dst.view());
  return dst;
}

class ChannelAttentionTest : public ::testing::TestWithParam<ChannelAttentionDesc> {};

TEST_P(ChannelAttentionTest, MatchesFloat64Reference) {
  const ChannelAttentionDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor dst = run_plan(d, src.cview(), w.views);
  EXPECT_TRUE(testing::all_close(
      key, dst.cview(), reference::channel_attention(d, src.cview(), w.views), mixer_tolerance()));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, ChannelAttentionTest,
    ::testing::Values(ChannelAttentionDesc{.n = 2, .h = 5, .w = 7, .c = 96, .heads = 3},
                      ChannelAttentionDesc{.n = 1, .h = 1, .w = 1, .c = 19, .heads = 1},
                      ChannelAttentionDesc{
                          .n = 2, .h = 13, .w = 5, .c = 24, .heads = 8, .qkv_bias = Bias::None},
                      ChannelAttentionDesc{.n = 1, .h = 14, .w = 14, .c = 64, .heads = 2},
                      ChannelAttentionDesc{.n = 1, .h = 7, .w = 13, .c = 69, .heads = 3}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// A token's output depends on every other token of its sample (through k^T v) and on no token of
// another sample.
TEST(ChannelAttention, MixesAllTokensOfOneSampleOnly) {
  const ChannelAttentionDesc d{.n = 2, .h = 5, .w = 5, .c = 12, .heads = 2};
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor base = run_plan(d, src.cview(), w.views);
  const std::int64_t per_sample = d.h * d.w * d.c;
  src.f32()[per_sample + 24 * d.c + 3] += 2.f;  // last token of sample 1
  const Tensor moved = run_plan(d, src.cview(), w.views);
  for (std::int64_t i = 0; i < per_sample; ++i) ASSERT_EQ(moved.f32()[i], base.f32()[i]) << i;
  double first_token_change = 0;
  for (std::int64_t ch = 0; ch < d.c; ++ch) {
    first_token_change = std::max(
        first_token_change,
        static_cast<double>(std::abs(moved.f32()[per_sample + ch] - base.f32()[per_sample + ch])));
  }
  EXPECT_GT(first_token_change, 1e-4);
}

TEST(ChannelAttention, RefusesBadHeadsNamingTheValue) {
  const MixerEntry& entry = find_mixer("channel_attention");
  const auto error_of = [&](std::vector<std::string> words) -> std::string {
    try {
      entry.check(Params::parse(entry.name, entry.params, words));
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "no throw";
  };
  EXPECT_NE(error_of({"c=96", "heads=5"}).find("heads=5 must divide c=96"), std::string::npos)
      << error_of({"c=96", "heads=5"});
  EXPECT_NE(error_of({"heads=0"}).find("heads"), std::string::npos);
  EXPECT_NE(error_of({"qkv_bias=2"}).find("qkv_bias"), std::string::npos);
  EXPECT_EQ(error_of({"c=96", "heads=96", "qkv_bias=0"}), "no throw");
}

TEST(ChannelAttention, WeightsFollowQkvBias) {
  const ChannelAttentionDesc with{.c = 12, .heads = 3};
  const ChannelAttentionDesc without{.c = 12, .heads = 3, .qkv_bias = Bias::None};
  EXPECT_EQ(weight_specs(with).size(), 4u);
  ASSERT_EQ(weight_specs(without).size(), 3u);
  for (const WeightSpec& s : weight_specs(without)) EXPECT_NE(s.name, "qkv.bias");
  EXPECT_EQ(cost(with).params - cost(without).params, 36);
}

TEST(ChannelAttention, CostCountsProjectionsAndBothProducts) {
  const ChannelAttentionDesc d{.n = 1, .h = 14, .w = 14, .c = 384, .heads = 12};
  const double t = 196, c = 384, hd = 32;
  const OpCost cst = cost(d);
  EXPECT_DOUBLE_EQ(cst.flops, 2 * t * c * 3 * c + 4 * t * c * hd + 2 * t * c * c);
  EXPECT_EQ(cst.params, 4 * 384 * 384 + 4 * 384);
}

}  // namespace
}  // namespace hwnas
