// patch_embed and conv_stem against their float64 references, shapes, keys and errors.
#include "kernels/layers/stem.hpp"

#include <gtest/gtest.h>

#include "tests/kernels/layer_test_util.hpp"

namespace hwnas {
namespace {

using testing::expect_layer_error;
using testing::expect_layer_matches_reference;

struct Case {
  std::string layer;
  std::vector<std::string> words;
};

class StemReference : public ::testing::TestWithParam<Case> {};

TEST_P(StemReference, MatchesFloat64Reference) {
  expect_layer_matches_reference(GetParam().layer, GetParam().words);
}

// Sizes not divisible by the patch / stride (floor rule), batch 2, odd channels, every patch size.
INSTANTIATE_TEST_SUITE_P(
    Configs, StemReference,
    ::testing::Values(Case{"patch_embed", {"n=2", "h=13", "w=14", "c=19", "patch=4"}},
                      Case{"patch_embed", {"h=35", "w=33", "c=96", "patch=16", "norm=ln"}},
                      Case{"patch_embed", {"h=8", "w=17", "in_c=1", "c=7", "patch=8", "norm=none"}},
                      Case{"patch_embed", {"h=4", "w=4", "c=3", "patch=4"}},
                      Case{"conv_stem", {"n=2", "h=13", "w=15", "c=32", "act=gelu_erf"}},
                      Case{"conv_stem", {"h=1", "w=1", "c=2", "act=relu"}},
                      Case{"conv_stem", {"h=31", "w=28", "c=96", "act=hardswish"}}),
    [](const auto& p) {
      std::string name = p.param.layer;
      for (const std::string& w : p.param.words) name += "_" + w;
      return testing::key_to_test_name(name);
    });

TEST(Stem, ShapesAndKeys) {
  const PatchEmbedDesc pe{};
  EXPECT_EQ(to_string(pe), "patch_embed:n=1,h=224,w=224,in_c=3,c=96,patch=4,norm=ln");
  EXPECT_EQ(dst_shape(pe), Shape({1, 56, 56, 96}));
  EXPECT_EQ(dst_shape(PatchEmbedDesc{.h = 13, .w = 14, .patch = 4}), Shape({1, 3, 3, 96}));
  const ConvStemDesc cs{};
  EXPECT_EQ(to_string(cs), "conv_stem:n=1,h=224,w=224,in_c=3,c=96,act=gelu_erf");
  EXPECT_EQ(dst_shape(cs), Shape({1, 56, 56, 96}));
  // PyTorch: 13 -> 7 -> 4, 15 -> 8 -> 4.
  EXPECT_EQ(dst_shape(ConvStemDesc{.h = 13, .w = 15}), Shape({1, 4, 4, 96}));
  EXPECT_DOUBLE_EQ(cost(cs).flops, 2.0 * 112 * 112 * 48 * 27 + 2.0 * 56 * 56 * 96 * 48 * 9);
}

TEST(Stem, ErrorsNameTheValue) {
  expect_layer_error("patch_embed", {"h=3", "patch=4"}, "h=3 and w=224 must be >= patch=4");
  expect_layer_error("patch_embed", {"norm=bn"}, "bn");
  expect_layer_error("conv_stem", {"c=95"}, "c=95 must be even");
  expect_layer_error("conv_stem", {"act=star_relu"}, "star_relu");
}

}  // namespace
}  // namespace hwnas
