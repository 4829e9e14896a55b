// FasterNet's partial conv against its float64 reference at odd sizes and splits, plus error
// messages and the cost model.
#include "kernels/mixers/partial_conv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/partial_conv_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

class PartialConvTest : public ::testing::TestWithParam<PartialConvDesc> {};

TEST_P(PartialConvTest, MatchesFloat64Reference) {
  const PartialConvDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  PartialConvPlan::create(testing::test_engine(), d, w.views).run(src.cview(), dst.view());
  const std::int64_t taps = 9 * partial_conv_channels(d);
  EXPECT_TRUE(testing::all_close(key, dst.cview(), reference::partial_conv(d, src.cview(), w.views),
                                 [taps](double, double mag, std::int64_t) {
                                   return testing::sum_tolerance(taps, std::max(mag, 1.0));
                                 }));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PartialConvTest,
    ::testing::Values(PartialConvDesc{.n = 2, .h = 13, .w = 7, .c = 96, .n_div = 4},
                      PartialConvDesc{.n = 1, .h = 1, .w = 1, .c = 5, .n_div = 4},
                      PartialConvDesc{.n = 1, .h = 5, .w = 14, .c = 19, .n_div = 2},
                      PartialConvDesc{.n = 2, .h = 7, .w = 5, .c = 17, .n_div = 1},
                      PartialConvDesc{.n = 1, .h = 14, .w = 13, .c = 40, .n_div = 40},
                      PartialConvDesc{.n = 1, .h = 56, .w = 56, .c = 32, .n_div = 4}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

std::string error_of(std::vector<std::string> words) {
  const MixerEntry& entry = find_mixer("partial_conv");
  try {
    entry.check(Params::parse(entry.name, entry.params, words));
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "no throw";
}

TEST(PartialConv, RefusesASplitWithoutConvChannels) {
  EXPECT_NE(error_of({"c=3", "n_div=4"}).find("n_div=4 leaves no channel"), std::string::npos)
      << error_of({"c=3", "n_div=4"});
  EXPECT_NE(error_of({"n_div=0"}).find("n_div"), std::string::npos);
  EXPECT_EQ(error_of({"c=4", "n_div=4"}), "no throw");
}

TEST(PartialConv, CostCountsOnlyTheConvChannels) {
  const PartialConvDesc d{.n = 1, .h = 56, .w = 56, .c = 96, .n_div = 4};
  const OpCost c = cost(d);
  EXPECT_EQ(partial_conv_channels(d), 24);
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 56 * 56 * 24 * 24 * 9);
  EXPECT_EQ(c.params, 24 * 24 * 9);
  EXPECT_EQ(weight_specs(d)[0].shape, Shape({24, 24, 3, 3}));
}

}  // namespace
}  // namespace hwnas
