// ConvFormer's SepConv against its float64 reference at odd sizes, kernels and expansion ratios, a
// hand-computed case for StarReLU and the zero padding after it, strided (sliced) weights, error
// messages, weight names and the cost model.
#include "kernels/mixers/sepconv.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/sepconv_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

testing::Tolerance mixer_tolerance() {
  const double tol = find_mixer("sepconv").tolerance;
  return [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); };
}

Tensor run_plan(const SepconvDesc& d, const ConstTensorView& src, const MixerWeights& w) {
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  SepconvPlan::create(testing::test_engine(), d, w).run(src, dst.view());
  return dst;
}

std::string error_of(std::vector<std::string> words) {
  const MixerEntry& entry = find_mixer("sepconv");
  try {
    entry.check(Params::parse(entry.name, entry.params, words));
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "no throw";
}

class SepconvTest : public ::testing::TestWithParam<SepconvDesc> {};

TEST_P(SepconvTest, MatchesFloat64Reference) {
  const SepconvDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor dst = run_plan(d, src.cview(), w.views);
  EXPECT_TRUE(testing::all_close(key, dst.cview(), reference::sepconv(d, src.cview(), w.views),
                                 mixer_tolerance()));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SepconvTest,
    ::testing::Values(
        SepconvDesc{.n = 2, .h = 5, .w = 7, .c = 3}, SepconvDesc{.n = 1, .h = 1, .w = 1, .c = 1},
        SepconvDesc{.n = 1, .h = 3, .w = 2, .c = 19, .kernel = 3},
        SepconvDesc{.n = 2, .h = 13, .w = 11, .c = 23, .expansion_ratio = 1.5},
        SepconvDesc{.n = 1, .h = 9, .w = 6, .c = 17, .expansion_ratio = 0.5, .kernel = 1},
        SepconvDesc{.n = 1, .h = 14, .w = 15, .c = 40, .kernel = 5},
        SepconvDesc{.n = 1, .h = 7, .w = 7, .c = 64, .expansion_ratio = 4, .kernel = 9},
        SepconvDesc{.n = 2, .h = 15, .w = 13, .c = 96}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// c = 1, med = 1 on a 1x2 map, every value exact in f32. pwconv1 = 2: a = (2, -2); StarReLU with
// scale 0.5, bias 0.25: s = (0.5*4 + 0.25, 0 + 0.25) = (2.25, 0.25). The 3x3 conv's middle row
// (1, 2, 4) sees the map; its other rows (8 everywhere) and the columns beyond the map read the
// zero padding, so with padding taken before the activation (reading act(0) = 0.25) the outputs
// would grow by 0.25 * 8 * 6 = 12 and more. d = (2*2.25 + 4*0.25, 1*2.25 + 2*0.25) = (5.5, 2.75);
// pwconv2 = 3: y = (16.5, 8.25).
TEST(Sepconv, StarReluThenZeroPaddedDepthwise) {
  const SepconvDesc d{.n = 1, .h = 1, .w = 2, .c = 1, .expansion_ratio = 1, .kernel = 3};
  Tensor src = Tensor::empty({1, 1, 2, 1});
  src.f32()[0] = 1;
  src.f32()[1] = -1;
  Tensor w1 = Tensor::empty({1, 1}), w2 = Tensor::empty({1, 1});
  Tensor scale = Tensor::empty({1}), bias = Tensor::empty({1}), dw = Tensor::empty({1, 1, 3, 3});
  w1.f32()[0] = 2;
  w2.f32()[0] = 3;
  scale.f32()[0] = 0.5f;
  bias.f32()[0] = 0.25f;
  for (int i = 0; i < 9; ++i) dw.f32()[i] = 8;
  dw.f32()[3] = 1;
  dw.f32()[4] = 2;
  dw.f32()[5] = 4;
  MixerWeights w;
  w.set("pwconv1.weight", w1.cview());
  w.set("act1.scale", scale.cview());
  w.set("act1.bias", bias.cview());
  w.set("dwconv.weight", dw.cview());
  w.set("pwconv2.weight", w2.cview());
  const Tensor dst = run_plan(d, src.cview(), w);
  EXPECT_EQ(dst.f32()[0], 16.5f);
  EXPECT_EQ(dst.f32()[1], 8.25f);
  const reference::RefOutput ref = reference::sepconv(d, src.cview(), w);
  EXPECT_EQ(ref.value[0], 16.5);
  EXPECT_EQ(ref.value[1], 8.25);
}

// A supernet passes the leading rows/channels of larger tensors (weight entanglement): the plan
// must read strided views as it reads contiguous copies.
TEST(Sepconv, SlicedWeightsEqualContiguousCopies) {
  const SepconvDesc d{.n = 1, .h = 6, .w = 5, .c = 12, .kernel = 5};
  const std::int64_t med = sepconv_med(d);
  std::mt19937_64 rng(testing::fresh_seed("sepconv sliced"));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const Tensor w1 = testing::random_tensor({med + 8, d.c + 4}, rng, -0.3f, 0.3f);
  const Tensor dw = testing::random_tensor({med + 8, 1, 7, 7}, rng, -0.2f, 0.2f);
  const Tensor w2 = testing::random_tensor({d.c + 4, med + 8}, rng, -0.2f, 0.2f);
  const Tensor scale = testing::random_tensor({1}, rng, 0.5f, 1.5f);
  const Tensor bias = testing::random_tensor({1}, rng);
  MixerWeights sliced;
  sliced.set("pwconv1.weight", w1.cview().slice(0, 0, med).slice(1, 0, d.c));
  sliced.set("dwconv.weight", dw.cview().slice(0, 0, med).slice(2, 1, 6).slice(3, 1, 6));
  sliced.set("pwconv2.weight", w2.cview().slice(0, 0, d.c).slice(1, 0, med));
  sliced.set("act1.scale", scale.cview());
  sliced.set("act1.bias", bias.cview());
  std::vector<Tensor> copies;
  MixerWeights contiguous;
  for (const auto& [name, view] : sliced.all()) {
    copies.push_back(Tensor::copy_of(view));
    contiguous.set(name, copies.back().cview());
  }
  const Tensor a = run_plan(d, src.cview(), sliced);
  const Tensor b = run_plan(d, src.cview(), contiguous);
  for (std::int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.f32()[i], b.f32()[i]) << i;
  EXPECT_TRUE(testing::all_close(
      to_string(d), a.cview(), reference::sepconv(d, src.cview(), contiguous), mixer_tolerance()));
}

TEST(Sepconv, RefusesBadParamsNamingTheValue) {
  EXPECT_NE(error_of({"kernel=6"}).find("kernel=6 must be odd and <= 31"), std::string::npos)
      << error_of({"kernel=6"});
  EXPECT_NE(error_of({"kernel=33"}).find("kernel"), std::string::npos) << error_of({"kernel=33"});
  EXPECT_NE(error_of({"kernel=0"}).find("kernel"), std::string::npos) << error_of({"kernel=0"});
  EXPECT_NE(error_of({"c=3", "expansion_ratio=0.25"})
                .find("expansion_ratio=0.25 must be in (0, 16] and give med = int(expansion_ratio "
                      "* c) >= 1 (c=3)"),
            std::string::npos)
      << error_of({"c=3", "expansion_ratio=0.25"});
  EXPECT_NE(error_of({"expansion_ratio=0"}).find("expansion_ratio=0 must be in (0, 16]"),
            std::string::npos)
      << error_of({"expansion_ratio=0"});
  EXPECT_NE(error_of({"expansion_ratio=17"}).find("expansion_ratio"), std::string::npos)
      << error_of({"expansion_ratio=17"});
  EXPECT_NE(error_of({"h=0"}).find("h=0 is out of range"), std::string::npos) << error_of({"h=0"});
  try {  // a desc built in code, not parsed, meets the mixer's own check
    check(SepconvDesc{.h = 0});
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("sepconv: h=0 must be >= 1"), std::string::npos)
        << e.what();
  }
  EXPECT_EQ(error_of({"c=3", "expansion_ratio=0.34", "kernel=1"}), "no throw");
}

TEST(Sepconv, MissingOrStrayWeightIsNamed) {
  const SepconvDesc d{.n = 1, .h = 4, .w = 3, .c = 8};
  std::mt19937_64 rng(3);
  RandomWeights w = make_random_weights(weight_specs(d), rng);
  MixerWeights missing;
  for (const auto& [name, view] : w.views.all()) {
    if (name != "act1.bias") missing.set(name, view);
  }
  try {
    SepconvPlan::create(testing::test_engine(), d, missing);
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("act1.bias"), std::string::npos) << e.what();
  }
  Tensor stray = Tensor::zeros({8});
  w.views.set("pwconv1.bias", stray.cview());
  try {
    SepconvPlan::create(testing::test_engine(), d, w.views);
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("pwconv1.bias"), std::string::npos) << e.what();
  }
}

TEST(Sepconv, WeightsFollowTimm) {
  const SepconvDesc d{.c = 23, .expansion_ratio = 1.5, .kernel = 5};
  EXPECT_EQ(sepconv_med(d), 34);  // int(34.5): Python's truncation
  const std::vector<WeightSpec> specs = weight_specs(d);
  ASSERT_EQ(specs.size(), 5u);
  EXPECT_EQ(specs[0].name, "pwconv1.weight");
  EXPECT_EQ(specs[0].shape, Shape({34, 23}));
  EXPECT_EQ(specs[1].name, "act1.scale");
  EXPECT_EQ(specs[1].shape, Shape({1}));
  EXPECT_EQ(specs[2].name, "act1.bias");
  EXPECT_EQ(specs[3].name, "dwconv.weight");
  EXPECT_EQ(specs[3].shape, Shape({34, 1, 5, 5}));
  EXPECT_EQ(specs[4].name, "pwconv2.weight");
  EXPECT_EQ(specs[4].shape, Shape({23, 34}));
}

// ConvFormer-S18 stage 3 (14x14x320, med 640, 7x7): timm's SepConv there holds
// 2*320*640 + 640*49 + 2 = 440,962 parameters.
TEST(Sepconv, CostCountsProjectionsAndDepthwise) {
  const SepconvDesc d{.n = 1, .h = 14, .w = 14, .c = 320};
  const double t = 196;
  const OpCost cst = cost(d);
  EXPECT_DOUBLE_EQ(cst.flops, 2 * t * (320 * 640 + 640 * 49 + 640 * 320));
  EXPECT_EQ(cst.params, 440962);
  EXPECT_DOUBLE_EQ(cst.bytes, 4.0 * (2 * t * 320 + 440962));
}

}  // namespace
}  // namespace hwnas
