// patch_merging and conv_downsample against their float64 references, keys, shapes and errors.
#include <gtest/gtest.h>

#include "kernels/layers/conv_downsample.hpp"
#include "kernels/layers/patch_merging.hpp"
#include "tests/kernels/layer_test_util.hpp"

namespace hwnas {
namespace {

using testing::expect_layer_error;
using testing::expect_layer_matches_reference;

struct Case {
  std::string layer;
  std::vector<std::string> words;
};

class DownsampleReference : public ::testing::TestWithParam<Case> {};

TEST_P(DownsampleReference, MatchesFloat64Reference) {
  expect_layer_matches_reference(GetParam().layer, GetParam().words);
}

// Odd maps (padding / floor paths), 1x1, batch 2, odd channels.
INSTANTIATE_TEST_SUITE_P(
    Configs, DownsampleReference,
    ::testing::Values(
        Case{"patch_merging", {"n=2", "h=7", "w=5", "c=19"}},
        Case{"patch_merging", {"h=1", "w=1", "c=3"}},
        Case{"patch_merging", {"h=14", "w=13", "c=96"}},
        Case{"conv_downsample", {"n=2", "h=7", "w=5", "c=19", "kernel=2", "norm=pre"}},
        Case{"conv_downsample", {"h=13", "w=14", "c=96", "kernel=3", "norm=post"}},
        Case{"conv_downsample", {"h=1", "w=1", "c=8", "kernel=3", "norm=none", "out_c=5"}},
        Case{"conv_downsample", {"n=2", "h=5", "w=5", "c=23", "kernel=3", "norm=pre"}},
        Case{"conv_downsample", {"h=2", "w=3", "c=4", "kernel=2", "norm=post", "out_c=7"}}),
    [](const auto& p) {
      std::string name = p.param.layer;
      for (const std::string& w : p.param.words) name += "_" + w;
      return testing::key_to_test_name(name);
    });

TEST(PatchMerging, ShapesKeysAndCost) {
  const PatchMergingDesc d{.n = 2, .h = 7, .w = 5, .c = 19};
  EXPECT_EQ(to_string(d), "patch_merging:n=2,h=7,w=5,c=19");
  EXPECT_EQ(dst_shape(d), Shape({2, 4, 3, 38}));
  EXPECT_EQ(cost(d).params, 8 * 19 + 8 * 19 * 19);
  EXPECT_DOUBLE_EQ(cost(d).flops, 2.0 * 24 * 76 * 38);
}

TEST(ConvDownsample, ShapesKeysAndDefaults) {
  const LayerEntry& e = find_layer("conv_downsample");
  const std::vector<std::string> words = {"h=7", "w=5", "c=96"};
  const Params p = Params::parse(e.name, e.params, words);
  EXPECT_EQ(e.check(p), "conv_downsample:n=1,h=7,w=5,c=96,kernel=2,norm=pre,out_c=192");
  EXPECT_EQ(e.dst_shape(p), Shape({1, 3, 2, 192}));  // PyTorch's floor for 2x2 s2
  const std::vector<std::string> k3 = {"h=7", "w=5", "c=96", "kernel=3"};
  EXPECT_EQ(e.dst_shape(Params::parse(e.name, e.params, k3)), Shape({1, 4, 3, 192}));
  const ConvDownsampleDesc d =
      conv_downsample_desc_from(Params::from_key(e.name, e.params, e.check(p)));
  EXPECT_EQ(to_string(d), e.check(p));
}

TEST(Downsample, ErrorsNameTheValue) {
  expect_layer_error("conv_downsample", {"kernel=4"}, "kernel=4 must be 2 (stride 2) or 3");
  expect_layer_error("conv_downsample", {"h=1", "kernel=2"},
                     "h=1 and w=56 must be >= 2 for kernel=2");
  expect_layer_error("conv_downsample", {"norm=before"}, "before");
  expect_layer_error("patch_merging", {"w=0"}, "w=0 is out of range");
}

}  // namespace
}  // namespace hwnas
