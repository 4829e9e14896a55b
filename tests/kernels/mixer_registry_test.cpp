// What every registered token mixer must do, checked generically through the registry: canonical
// keys that parse back, weights checked by name and shape, every output written and equal to the
// float64 reference within the mixer's stated tolerance, bad shapes refused with the value named.
// Each mixer's own test (tests/kernels/<mixer>_test.cpp) covers its semantics in depth.
#include "kernels/mixers/mixer_registry.hpp"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

std::vector<std::string> mixer_names() {
  std::vector<std::string> names;
  for (const MixerEntry& entry : mixer_registry()) names.push_back(entry.name);
  return names;
}

TEST(MixerRegistry, NamesAreUniqueAndParamsStartWithTheShape) {
  std::set<std::string> seen;
  for (const MixerEntry& entry : mixer_registry()) {
    EXPECT_TRUE(seen.insert(entry.name).second) << entry.name;
    ASSERT_GE(entry.params.size(), 4u) << entry.name;
    EXPECT_EQ(entry.params[0].name, "n") << entry.name;
    EXPECT_EQ(entry.params[1].name, "h") << entry.name;
    EXPECT_EQ(entry.params[2].name, "w") << entry.name;
    EXPECT_EQ(entry.params[3].name, "c") << entry.name;
    EXPECT_GT(entry.tolerance, 0.0) << entry.name;
    EXPECT_LT(entry.tolerance, 1e-3) << entry.name;
  }
  EXPECT_EQ(&find_mixer("window_attention"), &mixer_registry()[1]);
  try {
    find_mixer("windw_attention");
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("windw_attention"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("neighborhood_attention"), std::string::npos) << e.what();
  }
}

class MixerContract : public ::testing::TestWithParam<std::string> {
 protected:
  const MixerEntry& entry() const { return find_mixer(GetParam()); }
  // Batch 2 and a map no window, stripe or kernel of the defaults divides.
  Params params() const {
    const std::vector<std::string> words = {"n=2", "h=13", "w=15", "c=96"};
    return Params::parse(entry().name, entry().params, words);
  }
};

TEST_P(MixerContract, KeyParsesBackToTheSameKey) {
  const Params p = params();
  const std::string key = entry().check(p);
  EXPECT_EQ(key.rfind(entry().name + ":", 0), 0u) << key;
  const Params back = Params::from_key(entry().name, entry().params, key);
  EXPECT_EQ(entry().check(back), key);
}

TEST_P(MixerContract, CostIsPositive) {
  const OpCost c = entry().cost(params());
  // identity computes nothing; every other mixer does some arithmetic.
  if (entry().name != "identity") {
    EXPECT_GT(c.flops, 0.0);
  }
  EXPECT_GT(c.bytes, 0.0);
  // Weightless mixers (pooling, identity) learn nothing; a fixed random matrix (RandFormer) is a
  // weight but not a learnable parameter.
  const std::vector<WeightSpec> specs = entry().weights(params());
  double spec_elements = 0;
  for (const WeightSpec& s : specs) spec_elements += static_cast<double>(s.shape.numel());
  EXPECT_GE(c.params, 0.0);
  EXPECT_LE(c.params, spec_elements);
}

TEST_P(MixerContract, MatchesFloat64ReferenceAndWritesEveryOutput) {
  const Params p = params();
  const std::string key = entry().check(p);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const MixerShape s = mixer_shape_from(p);
  Tensor src = testing::random_tensor(s.shape(), rng);
  Tensor dst = Tensor::empty(s.shape());
  testing::poison(dst.view());
  const RandomWeights w = make_random_weights(entry().weights(p), rng);
  const auto plan = entry().create(testing::test_engine(), p, w.views);
  EXPECT_FALSE(plan->impl_name().empty());
  plan->run(src.cview(), dst.view());
  const double tol = entry().tolerance;
  EXPECT_TRUE(testing::all_close(
      key, dst.cview(), entry().reference(p, src.cview(), w.views),
      [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); }))
      << plan->impl_name();
  // A second run of the same plan gives the same output (no state carried between runs).
  Tensor again = Tensor::empty(s.shape());
  plan->run(src.cview(), again.view());
  for (std::int64_t i = 0; i < again.numel(); ++i) {
    ASSERT_EQ(again.f32()[i], dst.f32()[i]) << key << " at " << i;
  }
}

TEST_P(MixerContract, RefusesMissingAndMisshapedWeights) {
  const Params p = params();
  const std::vector<WeightSpec> specs = entry().weights(p);
  if (specs.empty()) {
    // Nothing can be missing or misshaped; a weight given anyway is refused by name.
    MixerWeights extra;
    Tensor stray = Tensor::zeros({1});
    extra.set("stray.weight", stray.cview());
    try {
      entry().create(testing::test_engine(), p, extra);
      FAIL() << "no throw";
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find("stray.weight"), std::string::npos) << e.what();
    }
    return;
  }
  std::mt19937_64 rng(7);
  const RandomWeights w = make_random_weights(specs, rng);
  MixerWeights missing;
  for (std::size_t i = 1; i < specs.size(); ++i) missing.set(specs[i].name, w.tensors[i].cview());
  try {
    entry().create(testing::test_engine(), p, missing);
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(specs[0].name), std::string::npos) << e.what();
  }
  MixerWeights misshaped = w.views;
  Tensor wrong = Tensor::zeros({specs[0].shape.numel() + 1});
  misshaped.set(specs[0].name, wrong.cview());
  try {
    entry().create(testing::test_engine(), p, misshaped);
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(specs[0].name), std::string::npos) << e.what();
  }
}

INSTANTIATE_TEST_SUITE_P(All, MixerContract, ::testing::ValuesIn(mixer_names()),
                         [](const auto& p) { return p.param; });

}  // namespace
}  // namespace hwnas
