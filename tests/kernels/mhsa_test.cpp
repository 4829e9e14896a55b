// mhsa: against the float64 reference at small sizes (ViT path, PVTv2 spatial reduction with maps
// the ratio does not divide, relative position bias on non-square maps, several query blocks per
// head), strided weight views, and the errors check() raises.
#include "kernels/mixers/mhsa.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/mhsa_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

double tolerance() { return find_mixer("mhsa").tolerance; }

class MhsaTest : public ::testing::TestWithParam<MhsaDesc> {};

TEST_P(MhsaTest, MatchesFloat64Reference) {
  const MhsaDesc d = GetParam();
  const std::string key = to_string(d);
  ASSERT_NO_THROW(check(d)) << key;
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Shape shape{d.n, d.h, d.w, d.c};
  Tensor src = testing::random_tensor(shape, rng);
  Tensor dst = Tensor::empty(shape);
  testing::poison(dst.view());
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const MhsaPlan plan = MhsaPlan::create(testing::test_engine(), d, w.views);
  plan.run(src.cview(), dst.view());
  const reference::RefOutput ref = reference::mhsa(d, src.cview(), w.views);
  const double tol = tolerance();
  double worst = 0;  // the largest error as a fraction of the tolerance, for the log
  for (std::int64_t i = 0; i < dst.numel(); ++i) {
    const auto k = static_cast<std::size_t>(i);
    worst = std::max(
        worst, std::abs(dst.f32()[i] - ref.value[k]) / (tol * std::max(ref.magnitude[k], 1.0)));
  }
  EXPECT_TRUE(testing::all_close(key, dst.cview(), ref, [tol](double, double mag, std::int64_t) {
    return tol * std::max(mag, 1.0);
  })) << plan.impl_name();
  std::printf("[mhsa] %s worst error = %.3g of the tolerance\n", key.c_str(), worst);
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, MhsaTest,
    ::testing::Values(
        MhsaDesc{.n = 2, .h = 1, .w = 1, .c = 8, .heads = 2},
        MhsaDesc{.n = 2, .h = 5, .w = 7, .c = 24, .heads = 3},
        MhsaDesc{.n = 2, .h = 7, .w = 7, .c = 48, .heads = 3, .qkv_bias = 0},
        // Several query blocks per head (272 tokens > the 256-row block).
        MhsaDesc{.n = 1, .h = 17, .w = 16, .c = 16, .heads = 2},
        // PVTv2 reduction: divisible, not divisible (13 / 4 floors to 3), one key left.
        MhsaDesc{.n = 2, .h = 14, .w = 14, .c = 32, .heads = 2, .sr_ratio = 2},
        MhsaDesc{.n = 2, .h = 13, .w = 14, .c = 32, .heads = 2, .sr_ratio = 4},
        MhsaDesc{.n = 1, .h = 5, .w = 7, .c = 16, .heads = 1, .qkv_bias = 0, .sr_ratio = 4},
        MhsaDesc{.n = 2, .h = 7, .w = 5, .c = 24, .heads = 3, .sr_ratio = 2},
        // Relative position bias: non-square maps catch an h/w swap; 13x14 has 3 query blocks.
        MhsaDesc{.n = 1, .h = 7, .w = 5, .c = 24, .heads = 3, .rel_pos = 1},
        MhsaDesc{.n = 2, .h = 1, .w = 5, .c = 8, .heads = 1, .rel_pos = 1},
        MhsaDesc{.n = 1, .h = 13, .w = 14, .c = 32, .heads = 4, .rel_pos = 1}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// A supernet passes slices of larger tensors: every weight here is a view with doubled strides,
// and the plan must give bitwise the output of dense copies.
TEST(Mhsa, StridedWeightViewsGiveTheSameOutput) {
  for (const MhsaDesc& d : {MhsaDesc{.n = 1, .h = 5, .w = 6, .c = 16, .heads = 2, .rel_pos = 1},
                            MhsaDesc{.n = 1, .h = 6, .w = 6, .c = 16, .heads = 2, .sr_ratio = 2}}) {
    std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
    const RandomWeights dense = make_random_weights(weight_specs(d), rng);
    std::vector<Tensor> wide;
    MixerWeights strided;
    for (const auto& [name, view] : dense.views.all()) {
      Tensor t = Tensor::zeros({view.numel() * 2});
      Strides strides = contiguous_strides(view.shape());
      for (int a = 0; a < strides.rank(); ++a) strides[a] *= 2;
      for (std::int64_t i = 0; i < view.numel(); ++i) t.f32()[2 * i] = view.f32()[i];
      strided.set(name, ConstTensorView(reinterpret_cast<const std::byte*>(t.f32()), view.shape(),
                                        strides, DType::F32));
      wide.push_back(std::move(t));
    }
    const Shape shape{d.n, d.h, d.w, d.c};
    Tensor src = testing::random_tensor(shape, rng);
    Tensor a = Tensor::empty(shape), b = Tensor::empty(shape);
    MhsaPlan::create(testing::test_engine(), d, dense.views).run(src.cview(), a.view());
    MhsaPlan::create(testing::test_engine(), d, strided).run(src.cview(), b.view());
    for (std::int64_t i = 0; i < a.numel(); ++i) {
      ASSERT_EQ(a.f32()[i], b.f32()[i]) << to_string(d) << " at " << i;
    }
  }
}

TEST(Mhsa, WeightNamesFollowTimmAndPvtv2) {
  std::vector<std::string> names;
  for (const WeightSpec& s : weight_specs({.h = 7, .w = 5, .c = 24, .heads = 3, .rel_pos = 1})) {
    names.push_back(s.name + s.shape.to_string());
  }
  EXPECT_EQ(names,
            (std::vector<std::string>{"qkv.weight[72,24]", "qkv.bias[72]", "proj.weight[24,24]",
                                      "proj.bias[24]", "relative_position_bias_table[117,3]"}));
  names.clear();
  for (const WeightSpec& s :
       weight_specs({.h = 8, .w = 8, .c = 16, .heads = 2, .qkv_bias = 0, .sr_ratio = 4})) {
    names.push_back(s.name + s.shape.to_string());
  }
  EXPECT_EQ(names, (std::vector<std::string>{
                       "q.weight[16,16]", "kv.weight[32,16]", "sr.weight[16,16,4,4]", "sr.bias[16]",
                       "norm.weight[16]", "norm.bias[16]", "proj.weight[16,16]", "proj.bias[16]"}));
}

TEST(Mhsa, CostCountsProjectionsAndBothAttentionProducts) {
  // Stage 3 of PVTv2-b1-like: 196 tokens, 49 keys after sr 2.
  const MhsaDesc d{.h = 14, .w = 14, .c = 64, .heads = 2, .sr_ratio = 2};
  const double t = 196, k = 49, c = 64;
  const double flops = 2 * t * c * c * 2 + 2 * k * c * c * 4 + 2 * k * c * 2 * c + 4 * t * k * c;
  EXPECT_DOUBLE_EQ(cost(d).flops, flops);
  EXPECT_EQ(cost(d).params, 64 * 64 * 2 + 64 * 2 + 128 * 64 + 128 + 64 * 64 * 4 + 64 + 128);
}

void expect_refused(const std::vector<std::string>& words, const std::string& substring) {
  try {
    mhsa_desc_from(Params::parse("mhsa", mhsa_params(), words));
    FAIL() << "no throw for " << substring;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
  }
}

TEST(Mhsa, RefusesInvalidDescs) {
  expect_refused({"c=96", "heads=5"}, "heads=5 must divide c=96");
  expect_refused({"h=7", "w=14", "sr_ratio=8"}, "sr_ratio=8 must not exceed the map h=7 x w=14");
  expect_refused({"h=14", "w=3", "sr_ratio=4"}, "sr_ratio=4 must not exceed the map h=14 x w=3");
  expect_refused({"sr_ratio=2", "rel_pos=1"}, "rel_pos=1 needs sr_ratio=1");
  expect_refused({"qkv_bias=2"}, "qkv_bias");
}

TEST(Mhsa, KeyParsesBack) {
  const MhsaDesc d{.n = 2, .h = 13, .w = 14, .c = 32, .heads = 4, .qkv_bias = 0, .sr_ratio = 4};
  const std::string key = to_string(d);
  EXPECT_EQ(key, "mhsa:n=2,h=13,w=14,c=32,heads=4,qkv_bias=0,sr_ratio=4,rel_pos=0");
  EXPECT_EQ(mhsa_desc_from(Params::from_key("mhsa", mhsa_params(), key)), d);
}

}  // namespace
}  // namespace hwnas
