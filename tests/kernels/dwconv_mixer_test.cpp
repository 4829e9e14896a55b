// ConvNeXt's depthwise conv mixer against its float64 reference for every backend at odd sizes,
// kernels 3..13 and dilation, plus error messages and the cost model.
#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/dwconv.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/dwconv_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

// Per shape, the dot-product bound of its own k (tighter than the registry's constant for k = 31).
testing::Tolerance dwconv_tolerance(const DwconvMixerDesc& d) {
  return [k = d.k](double, double mag, std::int64_t) {
    return testing::sum_tolerance(k * k + 1, std::max(mag, 1.0));
  };
}

class DwconvMixerTest : public ::testing::TestWithParam<std::tuple<DwconvMixerDesc, ConvBackend>> {
};

TEST_P(DwconvMixerTest, MatchesFloat64Reference) {
  DwconvMixerDesc d = std::get<0>(GetParam());
  d.backend = std::get<1>(GetParam());
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  const DwconvMixerPlan plan = DwconvMixerPlan::create(testing::test_engine(), d, w.views);
  plan.run(src.cview(), dst.view());
  EXPECT_TRUE(testing::all_close(key, dst.cview(), reference::dwconv(d, src.cview(), w.views),
                                 dwconv_tolerance(d)))
      << plan.impl_name();
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, DwconvMixerTest,
    ::testing::Combine(
        ::testing::Values(DwconvMixerDesc{.n = 2, .h = 13, .w = 7, .c = 96, .k = 7},
                          DwconvMixerDesc{.n = 1, .h = 1, .w = 1, .c = 5, .k = 3},
                          DwconvMixerDesc{.n = 1, .h = 5, .w = 14, .c = 19, .k = 5},
                          DwconvMixerDesc{.n = 1, .h = 14, .w = 13, .c = 33, .k = 9},
                          DwconvMixerDesc{.n = 2, .h = 7, .w = 5, .c = 17, .k = 11},
                          DwconvMixerDesc{.n = 1, .h = 13, .w = 14, .c = 48, .k = 13},
                          DwconvMixerDesc{
                              .n = 1, .h = 14, .w = 13, .c = 24, .k = 7, .bias = Bias::None},
                          DwconvMixerDesc{.n = 2, .h = 13, .w = 14, .c = 20, .k = 3, .dilation = 3},
                          DwconvMixerDesc{.n = 1, .h = 14, .w = 14, .c = 16, .k = 7, .dilation = 2},
                          DwconvMixerDesc{.n = 1, .h = 56, .w = 56, .c = 24, .k = 7}),
        ::testing::Values(ConvBackend::Auto, ConvBackend::OneDnn, ConvBackend::Hand)),
    [](const auto& p) {
      DwconvMixerDesc d = std::get<0>(p.param);
      d.backend = std::get<1>(p.param);
      return testing::key_to_test_name(to_string(d));
    });

std::string error_of(std::vector<std::string> words) {
  const MixerEntry& entry = find_mixer("dwconv");
  try {
    entry.check(Params::parse(entry.name, entry.params, words));
  } catch (const InvalidArgument& e) {
    return e.what();
  }
  return "no throw";
}

TEST(DwconvMixer, RefusesEvenKernelNamingTheValue) {
  EXPECT_NE(error_of({"k=4"}).find("k=4 must be odd"), std::string::npos) << error_of({"k=4"});
  EXPECT_NE(error_of({"k=33"}).find("k"), std::string::npos);
  EXPECT_NE(error_of({"dilation=0"}).find("dilation"), std::string::npos);
  EXPECT_NE(error_of({"backend=cuda"}).find("backend"), std::string::npos);
  EXPECT_EQ(error_of({"k=13", "dilation=2", "bias=0", "backend=hand"}), "no throw");
}

TEST(DwconvMixer, KeyKeepsTheBackend) {
  const DwconvMixerDesc d{.k = 5, .backend = ConvBackend::OneDnn};
  EXPECT_EQ(to_string(d), "dwconv:n=1,h=56,w=56,c=96,k=5,dilation=1,bias=1,backend=onednn");
  const MixerEntry& entry = find_mixer("dwconv");
  EXPECT_EQ(entry.check(Params::from_key("dwconv", entry.params, to_string(d))), to_string(d));
}

TEST(DwconvMixer, CostCountsEveryTap) {
  const OpCost c = cost(DwconvMixerDesc{.n = 1, .h = 56, .w = 56, .c = 96, .k = 7});
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 56 * 56 * 96 * 49);
  EXPECT_EQ(c.params, 96 * 49 + 96);
  EXPECT_DOUBLE_EQ(c.bytes, 4.0 * (2.0 * 56 * 56 * 96 + 96 * 50));
  EXPECT_EQ(cost(DwconvMixerDesc{.c = 8, .k = 3, .bias = Bias::None}).params, 72);
}

}  // namespace
}  // namespace hwnas
