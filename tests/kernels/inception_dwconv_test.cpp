// InceptionNeXt's inception depthwise conv against its float64 reference at odd sizes, ratios and
// kernels, the order of the channel split, error messages and the cost model.
#include "kernels/mixers/inception_dwconv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/inception_dwconv_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

Tensor run_plan(const InceptionDwconvDesc& d, const ConstTensorView& src, const MixerWeights& w) {
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  InceptionDwconvPlan::create(testing::test_engine(), d, w).run(src, dst.view());
  return dst;
}

class InceptionDwconvTest : public ::testing::TestWithParam<InceptionDwconvDesc> {};

TEST_P(InceptionDwconvTest, MatchesFloat64Reference) {
  const InceptionDwconvDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor dst = run_plan(d, src.cview(), w.views);
  const std::int64_t taps = std::max(d.square_kernel * d.square_kernel, d.band_kernel) + 1;
  EXPECT_TRUE(testing::all_close(key, dst.cview(),
                                 reference::inception_dwconv(d, src.cview(), w.views),
                                 [taps](double, double mag, std::int64_t) {
                                   return testing::sum_tolerance(taps, std::max(mag, 1.0));
                                 }));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, InceptionDwconvTest,
    ::testing::Values(InceptionDwconvDesc{.n = 2, .h = 13, .w = 7, .c = 96},
                      InceptionDwconvDesc{.n = 1, .h = 1, .w = 1, .c = 8},
                      InceptionDwconvDesc{.n = 1, .h = 14, .w = 13, .c = 40, .branch_ratio = 0.25},
                      InceptionDwconvDesc{.n = 2,
                                          .h = 5,
                                          .w = 14,
                                          .c = 51,
                                          .square_kernel = 5,
                                          .band_kernel = 7,
                                          .branch_ratio = 1.0 / 3},
                      InceptionDwconvDesc{.n = 1,
                                          .h = 7,
                                          .w = 5,
                                          .c = 19,
                                          .square_kernel = 1,
                                          .band_kernel = 13,
                                          .branch_ratio = 0.3},
                      InceptionDwconvDesc{.n = 1, .h = 56, .w = 56, .c = 96}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// The official split is (identity, hw, w, h): with every conv weight zero and biases 1, 2, 3 per
// branch, the output shows which channels each branch owns.
TEST(InceptionDwconv, SplitsIdentityThenSquareThenBands) {
  const InceptionDwconvDesc d{.n = 1, .h = 3, .w = 4, .c = 17, .branch_ratio = 0.25};
  ASSERT_EQ(inception_branch_channels(d), 4);
  std::vector<Tensor> tensors;
  MixerWeights w;
  float bias = 1;
  for (const WeightSpec& spec : weight_specs(d)) {
    tensors.push_back(Tensor::zeros(spec.shape));
    if (spec.kind == WeightKind::Bias) {
      for (std::int64_t i = 0; i < spec.shape.numel(); ++i) tensors.back().f32()[i] = bias;
      bias += 1;
    }
    w.set(spec.name, tensors.back().cview());
  }
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const Tensor dst = run_plan(d, src.cview(), w);
  for (std::int64_t p = 0; p < d.h * d.w; ++p) {
    for (std::int64_t ch = 0; ch < d.c; ++ch) {
      const float want = ch < 5 ? src.f32()[p * d.c + ch] : static_cast<float>((ch - 5) / 4 + 1);
      ASSERT_EQ(dst.f32()[p * d.c + ch], want) << "pixel " << p << " channel " << ch;
    }
  }
}

std::string error_of(std::vector<std::string> words) {
  const MixerEntry& entry = find_mixer("inception_dwconv");
  try {
    entry.check(Params::parse(entry.name, entry.params, words));
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "no throw";
}

TEST(InceptionDwconv, RefusesBadRatiosAndKernelsNamingTheValue) {
  EXPECT_NE(error_of({"c=7", "branch_ratio=0.125"}).find("branch_ratio=0.125"), std::string::npos)
      << error_of({"c=7", "branch_ratio=0.125"});
  EXPECT_NE(error_of({"c=96", "branch_ratio=0.5"}).find("branch_ratio=0.5"), std::string::npos)
      << error_of({"c=96", "branch_ratio=0.5"});
  EXPECT_NE(error_of({"band_kernel=10"}).find("band_kernel=10 must be odd"), std::string::npos);
  EXPECT_NE(error_of({"square_kernel=4"}).find("square_kernel=4"), std::string::npos);
  EXPECT_EQ(error_of({"c=8", "branch_ratio=0.125"}), "no throw");
}

TEST(InceptionDwconv, KeyParsesBackWithTheRatio) {
  const InceptionDwconvDesc d{.c = 64, .branch_ratio = 0.3};
  const MixerEntry& entry = find_mixer("inception_dwconv");
  EXPECT_EQ(entry.check(Params::from_key(entry.name, entry.params, to_string(d))), to_string(d));
}

TEST(InceptionDwconv, CostCountsTheThreeBranches) {
  const InceptionDwconvDesc d{.n = 1, .h = 56, .w = 56, .c = 96};
  const OpCost c = cost(d);
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 56 * 56 * 12 * (9 + 22));
  EXPECT_EQ(c.params, 12 * (9 + 22 + 3));
  EXPECT_EQ(weight_specs(d)[2].shape, Shape({12, 1, 1, 11}));
  EXPECT_EQ(weight_specs(d)[4].shape, Shape({12, 1, 11, 1}));
}

}  // namespace
}  // namespace hwnas
