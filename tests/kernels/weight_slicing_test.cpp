// WeightSpec slicing (kernels/mixers/mixer.hpp): the defaults, the annotation helpers, the checks,
// and that every registered mixer and layer describes its weights consistently. How the store
// slices with them is tested in tests/supernet/weight_store_test.cpp.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/layers/layer.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/mixers/mixer_registry.hpp"

namespace hwnas {
namespace {

using Sizes = std::vector<std::int64_t>;

const WeightSpec* find_spec(const std::vector<WeightSpec>& specs, std::string_view name) {
  for (const WeightSpec& s : specs) {
    if (s.name == name) return &s;
  }
  return nullptr;
}

std::vector<WeightSpec> mixer_specs(const std::string& mixer, std::vector<std::string> words) {
  const MixerEntry& e = find_mixer(mixer);
  return e.weights(Params::parse(e.name, e.params, words));
}

std::vector<WeightSpec> layer_specs(const std::string& layer, std::vector<std::string> words) {
  const LayerEntry& e = find_layer(layer);
  return e.weights(Params::parse(e.name, e.params, words));
}

void expect_throws_with(const WeightSpec& spec, const std::string& needle) {
  try {
    check_slicing(spec, "test");
    FAIL() << "no throw, expected: " << needle;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(spec.name), std::string::npos) << e.what();
  }
}

TEST(WeightSlicing, DefaultsCentreConvKernelsOnlyAndOneSegment) {
  const WeightSpec conv{"w", {5, 3, 7, 1}, WeightKind::Matrix};
  EXPECT_EQ(dim_slicing(conv, 0).rule, SliceRule::Leading);
  EXPECT_EQ(dim_slicing(conv, 1).rule, SliceRule::Leading);
  EXPECT_EQ(dim_slicing(conv, 2).rule, SliceRule::Centre);
  EXPECT_EQ(dim_slicing(conv, 3).rule, SliceRule::Centre);
  EXPECT_EQ(dim_slicing(conv, 2).segments, Sizes({7}));
  const WeightSpec table{"t", {3, 5, 7, 9}, WeightKind::Table};
  for (int d = 0; d < 4; ++d) EXPECT_EQ(dim_slicing(table, d).rule, SliceRule::Leading) << d;
  const WeightSpec linear{"l", {11, 13}, WeightKind::Matrix};
  EXPECT_EQ(dim_slicing(linear, 1).rule, SliceRule::Leading);
  EXPECT_EQ(dim_slicing(linear, 1).segments, Sizes({13}));
  check_slicing(conv, "test");
  check_slicing(table, "test");
}

TEST(WeightSlicing, HelpersKeepTheOtherDimensionsDefaults) {
  const WeightSpec s =
      with_segments({"qkv.weight", {3 * 5, 7, 3, 3}, WeightKind::Matrix}, 0, {5, 5, 5});
  ASSERT_EQ(s.slicing.size(), 4u);
  EXPECT_EQ(dim_slicing(s, 0).segments, Sizes({5, 5, 5}));
  EXPECT_EQ(dim_slicing(s, 1).segments, Sizes({7}));
  EXPECT_EQ(dim_slicing(s, 2).rule, SliceRule::Centre);  // the default survives the annotation
  EXPECT_EQ(dim_slicing(s, 3).rule, SliceRule::Centre);
  check_slicing(s, "test");

  const WeightSpec g =
      with_grid({"table", {5 * 9, 3}, WeightKind::Table}, 0, SliceRule::CentreGrid, 5, 9);
  EXPECT_EQ(dim_slicing(g, 0).rule, SliceRule::CentreGrid);
  EXPECT_EQ(dim_slicing(g, 0).grid_cols, 9);
  EXPECT_EQ(dim_slicing(g, 1).rule, SliceRule::Leading);
  check_slicing(g, "test");

  const WeightSpec r = with_rule({"rpb", {3, 9, 9}, WeightKind::Table}, 2, SliceRule::Centre);
  EXPECT_EQ(dim_slicing(r, 1).rule, SliceRule::Leading);
  EXPECT_EQ(dim_slicing(r, 2).rule, SliceRule::Centre);
}

TEST(WeightSlicing, CheckRefusesSlicingsThatDoNotDescribeTheShape) {
  expect_throws_with(with_segments({"qkv.weight", {14, 5}, WeightKind::Matrix}, 0, {5, 5, 5}),
                     "summing to 15, not its extent 14");
  expect_throws_with(with_segments({"f.bias", {3}, WeightKind::Bias}, 0, {4, -1}),
                     "segment of size -1");
  WeightSpec too_few{"x.weight", {4, 6}, WeightKind::Matrix};
  too_few.slicing = {DimSlicing{}};
  expect_throws_with(too_few, "slicing lists 1 dimensions, the shape has 2");
  WeightSpec bad_grid{"table", {35, 2}, WeightKind::Table};
  bad_grid.slicing = {DimSlicing{.rule = SliceRule::CentreGrid, .grid_cols = 6}, DimSlicing{}};
  expect_throws_with(bad_grid, "grid_cols=6, which must be >= 1 and divide 35");
  WeightSpec split_grid{"table", {35, 2}, WeightKind::Table};
  split_grid.slicing = {
      DimSlicing{.rule = SliceRule::LeadingGrid, .segments = {30, 5}, .grid_cols = 5},
      DimSlicing{}};
  expect_throws_with(split_grid, "is a grid and must be one segment");
}

// Every registered mixer and layer, at its defaults and at an odd map: a store can hold it.
TEST(WeightSlicing, EveryRegisteredWeightIsConsistent) {
  for (const MixerEntry& e : mixer_registry()) {
    for (const std::vector<std::string>& words :
         {std::vector<std::string>{}, std::vector<std::string>{"h=13", "w=15", "c=96"}}) {
      for (const WeightSpec& s : e.weights(Params::parse(e.name, e.params, words))) {
        EXPECT_NO_THROW(check_slicing(s, e.name)) << e.name << " " << s.name;
      }
    }
  }
  for (const LayerEntry& e : layer_registry()) {
    for (const WeightSpec& s : e.weights(Params::parse(e.name, e.params, {}))) {
      EXPECT_NO_THROW(check_slicing(s, e.name)) << e.name << " " << s.name;
    }
  }
}

TEST(WeightSlicing, AttentionQkvIsThreeSegmentsAndTablesAreGrids) {
  for (const char* mixer : {"mhsa", "window_attention", "cswin_attention", "neighborhood_attention",
                            "linear_attention", "channel_attention"}) {
    const auto specs = mixer_specs(mixer, {"c=48", "heads=2"});
    const WeightSpec* qkv = find_spec(specs, "qkv.weight");
    ASSERT_NE(qkv, nullptr) << mixer;
    EXPECT_EQ(dim_slicing(*qkv, 0).segments, Sizes({48, 48, 48})) << mixer;
    if (const WeightSpec* b = find_spec(specs, "qkv.bias")) {
      EXPECT_EQ(dim_slicing(*b, 0).segments, Sizes({48, 48, 48})) << mixer;
    }
  }
  // Non-square window: the table is a (2*3-1) x (2*5-1) grid, the columns the window's width.
  const auto wa = mixer_specs("window_attention", {"c=32", "heads=2", "window=3", "window_w=5"});
  const WeightSpec* table = find_spec(wa, "relative_position_bias_table");
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->shape, Shape({5 * 9, 2}));
  EXPECT_EQ(dim_slicing(*table, 0).rule, SliceRule::CentreGrid);
  EXPECT_EQ(dim_slicing(*table, 0).grid_cols, 9);

  const auto na = mixer_specs("neighborhood_attention", {"c=32", "heads=2", "kernel=5"});
  const WeightSpec* rpb = find_spec(na, "rpb");
  ASSERT_NE(rpb, nullptr);
  EXPECT_EQ(dim_slicing(*rpb, 0).rule, SliceRule::Leading);
  EXPECT_EQ(dim_slicing(*rpb, 1).rule, SliceRule::Centre);
  EXPECT_EQ(dim_slicing(*rpb, 2).rule, SliceRule::Centre);

  const auto cga = mixer_specs("cascaded_group_attention",
                               {"h=5", "w=9", "c=48", "heads=3", "key_dim=8", "window=7"});
  const WeightSpec* biases = find_spec(cga, "attention_biases");
  ASSERT_NE(biases, nullptr);
  EXPECT_EQ(biases->shape, Shape({3, 5 * 7}));  // the window clamps to the 5-row map
  EXPECT_EQ(dim_slicing(*biases, 1).rule, SliceRule::LeadingGrid);
  EXPECT_EQ(dim_slicing(*biases, 1).grid_cols, 7);
  EXPECT_EQ(dim_slicing(*find_spec(cga, "qkvs.2.weight"), 0).segments, Sizes({8, 8, 16}));
}

TEST(WeightSlicing, ConcatenatedOutputsAreSegmentsPerChoice) {
  const auto focal = mixer_specs("focal_modulation", {"c=40", "focal_level=2"});
  EXPECT_EQ(dim_slicing(*find_spec(focal, "f.weight"), 0).segments, Sizes({40, 40, 3}));
  EXPECT_EQ(dim_slicing(*find_spec(focal, "f.bias"), 0).segments, Sizes({40, 40, 3}));

  // gnConv: the abc parts aligned at the end over the largest order (5), so c >> j is one
  // segment at every order.
  const auto g2 = mixer_specs("gnconv", {"c=64", "order=2"});
  EXPECT_EQ(dim_slicing(*find_spec(g2, "dwconv.weight"), 0).segments, Sizes({0, 0, 0, 32, 64}));
  EXPECT_EQ(dim_slicing(*find_spec(g2, "proj_in.weight"), 0).segments,
            Sizes({32, 0, 0, 0, 32, 64}));
  const auto g4 = mixer_specs("gnconv", {"c=64", "order=4"});
  EXPECT_EQ(dim_slicing(*find_spec(g4, "dwconv.bias"), 0).segments, Sizes({0, 8, 16, 32, 64}));
  EXPECT_EQ(dim_slicing(*find_spec(g4, "proj_in.bias"), 0).segments, Sizes({8, 0, 8, 16, 32, 64}));

  const auto glu = layer_specs("glu_mlp", {"c=24", "ratio=2"});
  EXPECT_EQ(dim_slicing(*find_spec(glu, "fc1.weight"), 0).segments, Sizes({48, 48}));
  const auto mlp = layer_specs("mlp", {"c=24", "ratio=2"});
  EXPECT_EQ(dim_slicing(*find_spec(mlp, "fc1.weight"), 0).segments, Sizes({48}));

  const auto pm = layer_specs("patch_merging", {"c=12"});
  EXPECT_EQ(dim_slicing(*find_spec(pm, "reduction.weight"), 1).segments, Sizes({12, 12, 12, 12}));
  EXPECT_EQ(dim_slicing(*find_spec(pm, "reduction.weight"), 0).segments, Sizes({24}));
  EXPECT_EQ(dim_slicing(*find_spec(pm, "norm.weight"), 0).segments, Sizes({12, 12, 12, 12}));

  const auto sha = mixer_specs("single_head_attention", {"c=64"});
  const WeightSpec* qkv = find_spec(sha, "qkv.weight");
  ASSERT_NE(qkv, nullptr);
  EXPECT_EQ(dim_slicing(*qkv, 0).segments.size(), 3u);
}

}  // namespace
}  // namespace hwnas
