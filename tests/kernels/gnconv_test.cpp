// HorNet gnConv against its float64 reference at odd sizes, every order and several kernels, plus
// error messages, weight names and the cost model.
#include "kernels/mixers/gnconv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/gnconv_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

testing::Tolerance mixer_tolerance() {
  const double tol = find_mixer("gnconv").tolerance;
  return [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); };
}

Tensor run_plan(const GnconvDesc& d, const ConstTensorView& src, const MixerWeights& w) {
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  GnconvPlan::create(testing::test_engine(), d, w).run(src, dst.view());
  return dst;
}

class GnconvTest : public ::testing::TestWithParam<GnconvDesc> {};

TEST_P(GnconvTest, MatchesFloat64Reference) {
  const GnconvDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor dst = run_plan(d, src.cview(), w.views);
  EXPECT_TRUE(testing::all_close(key, dst.cview(), reference::gnconv(d, src.cview(), w.views),
                                 mixer_tolerance()));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GnconvTest,
    ::testing::Values(GnconvDesc{.n = 2, .h = 5, .w = 7, .c = 6, .order = 2},
                      GnconvDesc{.n = 1, .h = 1, .w = 1, .c = 4, .order = 3},
                      GnconvDesc{.n = 2, .h = 13, .w = 14, .c = 24, .order = 3, .kernel = 5},
                      GnconvDesc{.n = 1, .h = 7, .w = 5, .c = 40, .order = 4, .kernel = 3},
                      GnconvDesc{.n = 1, .h = 14, .w = 13, .c = 48, .order = 5},
                      GnconvDesc{.n = 1, .h = 5, .w = 3, .c = 16, .order = 5, .kernel = 1},
                      GnconvDesc{.n = 2, .h = 13, .w = 15, .c = 96, .order = 3}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

TEST(Gnconv, RefusesBadParamsNamingTheValue) {
  const MixerEntry& entry = find_mixer("gnconv");
  const auto error_of = [&](std::vector<std::string> words) -> std::string {
    try {
      entry.check(Params::parse(entry.name, entry.params, words));
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "no throw";
  };
  EXPECT_NE(error_of({"order=6"}).find("order=6 must be in 2..5"), std::string::npos)
      << error_of({"order=6"});
  EXPECT_NE(error_of({"order=1"}).find("order=1 must be in 2..5"), std::string::npos);
  EXPECT_NE(error_of({"c=20", "order=4"}).find("c=20 must be divisible by 2^(order-1)=8"),
            std::string::npos)
      << error_of({"c=20", "order=4"});
  EXPECT_NE(error_of({"kernel=6"}).find("kernel=6 must be odd"), std::string::npos);
  EXPECT_EQ(error_of({"c=16", "order=5", "kernel=3"}), "no throw");
}

TEST(Gnconv, DimsAndWeightsFollowHorNet) {
  const GnconvDesc d{.c = 64, .order = 4};
  EXPECT_EQ(gnconv_dims(d), (std::vector<std::int64_t>{8, 16, 32, 64}));
  const std::vector<WeightSpec> specs = weight_specs(d);
  ASSERT_EQ(specs.size(), 12u);
  EXPECT_EQ(specs[2].name, "dwconv.weight");
  EXPECT_EQ(specs[2].shape, Shape({120, 1, 7, 7}));
  EXPECT_EQ(specs[4].name, "pws.0.weight");
  EXPECT_EQ(specs[4].shape, Shape({16, 8}));
  EXPECT_EQ(specs[8].name, "pws.2.weight");
  EXPECT_EQ(specs[8].shape, Shape({64, 32}));
}

TEST(Gnconv, CostCountsConvsAndProjections) {
  const GnconvDesc d{.n = 1, .h = 14, .w = 14, .c = 384, .order = 4};
  const double t = 196, c = 384;
  const OpCost cst = cost(d);
  EXPECT_DOUBLE_EQ(cst.flops, 4 * t * c * c + 2 * t * 720 * 49 +
                                  2 * t * (48 * 96 + 96 * 192 + 192 * 384) + 2 * t * c * c);
  EXPECT_EQ(cst.params, 2 * 384 * 384 + 768 + 720 * 50 + (48 * 96 + 96) + (96 * 192 + 192) +
                            (192 * 384 + 384) + 384 * 384 + 384);
}

}  // namespace
}  // namespace hwnas
