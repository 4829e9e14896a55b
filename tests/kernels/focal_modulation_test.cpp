// FocalNet focal modulation against its float64 reference at odd sizes, every focal level and
// several windows, plus error messages, weight names and the cost model.
#include "kernels/mixers/focal_modulation.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/focal_modulation_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

testing::Tolerance mixer_tolerance() {
  const double tol = find_mixer("focal_modulation").tolerance;
  return [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); };
}

Tensor run_plan(const FocalModulationDesc& d, const ConstTensorView& src, const MixerWeights& w) {
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  FocalModulationPlan::create(testing::test_engine(), d, w).run(src, dst.view());
  return dst;
}

class FocalModulationTest : public ::testing::TestWithParam<FocalModulationDesc> {};

TEST_P(FocalModulationTest, MatchesFloat64Reference) {
  const FocalModulationDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor dst = run_plan(d, src.cview(), w.views);
  EXPECT_TRUE(testing::all_close(
      key, dst.cview(), reference::focal_modulation(d, src.cview(), w.views), mixer_tolerance()));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, FocalModulationTest,
    ::testing::Values(FocalModulationDesc{.n = 2, .h = 5, .w = 7, .c = 19, .focal_level = 1},
                      FocalModulationDesc{.n = 1, .h = 1, .w = 1, .c = 3},
                      FocalModulationDesc{.n = 2, .h = 13, .w = 14, .c = 23, .focal_level = 2},
                      FocalModulationDesc{
                          .n = 1, .h = 7, .w = 5, .c = 32, .focal_level = 3, .focal_window = 1},
                      FocalModulationDesc{.n = 1,
                                          .h = 14,
                                          .w = 13,
                                          .c = 17,
                                          .focal_level = 4,
                                          .focal_window = 5,
                                          .focal_factor = 0},
                      FocalModulationDesc{.n = 2, .h = 13, .w = 15, .c = 96}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

TEST(FocalModulation, RefusesBadParamsNamingTheValue) {
  const MixerEntry& entry = find_mixer("focal_modulation");
  const auto error_of = [&](std::vector<std::string> words) -> std::string {
    try {
      entry.check(Params::parse(entry.name, entry.params, words));
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "no throw";
  };
  EXPECT_NE(error_of({"focal_level=5"}).find("focal_level=5 must be in 1..4"), std::string::npos)
      << error_of({"focal_level=5"});
  EXPECT_NE(error_of({"focal_level=0"}).find("focal_level=0"), std::string::npos);
  EXPECT_NE(error_of({"focal_window=4"}).find("focal_window=4 must be odd"), std::string::npos);
  EXPECT_NE(error_of({"focal_factor=3"}).find("focal_factor=3 must be even"), std::string::npos);
  EXPECT_EQ(error_of({"c=5", "focal_level=4", "focal_window=1", "focal_factor=4"}), "no throw");
}

TEST(FocalModulation, WeightsFollowFocalNetNames) {
  const FocalModulationDesc d{.c = 8, .focal_level = 3, .focal_window = 3, .focal_factor = 2};
  const std::vector<WeightSpec> specs = weight_specs(d);
  ASSERT_EQ(specs.size(), 9u);
  EXPECT_EQ(specs[0].name, "f.weight");
  EXPECT_EQ(specs[0].shape, Shape({2 * 8 + 4, 8}));
  EXPECT_EQ(specs[4].name, "focal_layers.2.0.weight");
  EXPECT_EQ(specs[4].shape, Shape({8, 1, 7, 7}));
  EXPECT_EQ(specs[5].name, "h.weight");
  EXPECT_EQ(specs[5].shape, Shape({8, 8}));
}

TEST(FocalModulation, CostCountsLinearsAndDepthwiseConvs) {
  const FocalModulationDesc d{.n = 1, .h = 56, .w = 56, .c = 96};
  const double t = 56 * 56, c = 96;
  const OpCost cst = cost(d);
  EXPECT_DOUBLE_EQ(cst.flops, 2 * t * c * (2 * c + 3) + 2 * t * c * (9 + 25) + 4 * t * c * c);
  EXPECT_EQ(cst.params, (2 * 96 + 3) * 97 + 96 * (9 + 25) + 2 * (96 * 96 + 96));
}

}  // namespace
}  // namespace hwnas
