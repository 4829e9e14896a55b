// What every registered layer must do, checked through the registry: keys that parse back to the
// same key, stated tolerances below 1e-3, weights checked by name before anything is prepared, and
// the float64 reference matched at batch 2 on an odd map with default parameters.
#include <gtest/gtest.h>

#include <set>

#include "kernels/layers/layer.hpp"
#include "tests/kernels/layer_test_util.hpp"

namespace hwnas {
namespace {

std::vector<std::string> layer_names() {
  std::vector<std::string> names;
  for (const LayerEntry& e : layer_registry()) names.push_back(e.name);
  return names;
}

// Small odd shapes every layer accepts with its other parameters at their defaults.
std::vector<std::string> small_words(const LayerEntry& e) {
  const bool image = e.name == "patch_embed" || e.name == "conv_stem";
  if (image) return {"n=2", "h=13", "w=15", "c=32"};
  return {"n=2", "h=13", "w=15", "c=24"};
}

TEST(LayerRegistry, NamesUniqueToleranceStatedUnknownNamed) {
  std::set<std::string> seen;
  for (const LayerEntry& e : layer_registry()) {
    EXPECT_TRUE(seen.insert(e.name).second) << e.name;
    EXPECT_GT(e.tolerance, 0.0) << e.name;
    EXPECT_LT(e.tolerance, 1e-3) << e.name;
  }
  try {
    find_layer("patch_merge");
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("patch_merging"), std::string::npos) << e.what();
  }
}

class LayerContract : public ::testing::TestWithParam<std::string> {};

TEST_P(LayerContract, KeyParsesBackAndMatchesReference) {
  const LayerEntry& e = find_layer(GetParam());
  const std::vector<std::string> words = small_words(e);
  const Params p = Params::parse(e.name, e.params, words);
  const std::string key = e.check(p);
  EXPECT_EQ(key.rfind(e.name + ":", 0), 0u) << key;
  EXPECT_EQ(e.check(Params::from_key(e.name, e.params, key)), key);
  const OpCost c = e.cost(p);
  EXPECT_GT(c.flops, 0) << key;
  EXPECT_GT(c.bytes, 0) << key;
  std::int64_t params = 0;
  for (const WeightSpec& s : e.weights(p)) params += s.shape.numel();
  EXPECT_EQ(c.params, params) << key;
  testing::expect_layer_matches_reference(e.name, words);
}

TEST_P(LayerContract, MissingWeightIsNamed) {
  const LayerEntry& e = find_layer(GetParam());
  const std::vector<std::string> words = small_words(e);
  const Params p = Params::parse(e.name, e.params, words);
  const std::vector<WeightSpec> specs = e.weights(p);
  std::mt19937_64 rng(3);
  RandomWeights w = make_random_weights(specs, rng);
  MixerWeights partial;
  for (std::size_t i = 1; i < specs.size(); ++i)
    partial.set(specs[i].name, w.views.get(specs[i].name, ""));
  try {
    e.create(testing::test_engine(), p, partial);
    FAIL() << "no throw";
  } catch (const InvalidArgument& err) {
    EXPECT_NE(std::string(err.what()).find(specs[0].name), std::string::npos) << err.what();
  }
}

INSTANTIATE_TEST_SUITE_P(All, LayerContract, ::testing::ValuesIn(layer_names()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace hwnas
