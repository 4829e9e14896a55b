// Subnet::forward with an ActivationObserver: it sees every MLP's hidden units and every layer
// output that ends in a sign-keeping rectifier, with the right shapes, in execution order, and the
// logits are bitwise those of the plain forward.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <set>
#include <string>

#include "supernet/subnet.hpp"
#include "tests/supernet/test_archs.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

namespace archs = testing::archs;

// The value of `name=` in a canonical key ("mlp:n=2,h=12,...").
std::string key_value(const std::string& key, const std::string& name) {
  const std::string needle = name + "=";
  std::size_t at = key.find(":" + needle);
  if (at == std::string::npos) at = key.find("," + needle);
  if (at == std::string::npos) return {};
  const std::size_t begin = at + 1 + needle.size();
  return key.substr(begin, key.find(',', begin) - begin);
}

// What the observer must see: each MLP (its hidden), and each other op whose key fuses relu,
// gelu, silu or hardswish into its output.
bool expect_observed(const LayerInfo& layer) {
  if (layer.kind == "mlp") return true;
  static const std::set<std::string> kSignKeeping = {"relu", "gelu_erf", "gelu_tanh", "silu",
                                                     "hardswish"};
  return kSignKeeping.contains(key_value(layer.key, "act"));
}

struct Case {
  std::string name;
  std::function<Arch()> make;
  std::int64_t resolution;
};

class ObserverTest : public ::testing::TestWithParam<Case> {};

TEST_P(ObserverTest, SeesEveryRectifiedLayerAndKeepsTheLogits) {
  const Case& c = GetParam();
  const Arch arch = c.make();
  const std::int64_t batch = 2;
  const WeightStore store = make_weight_store(arch, c.resolution, 11);
  const Subnet net = Subnet::build(testing::test_engine(), arch, store,
                                   {.batch = batch, .resolution = c.resolution});
  std::mt19937_64 rng(testing::fresh_seed(c.name));
  const Tensor images = testing::random_tensor(net.input_shape(), rng);
  Tensor plain = Tensor::empty(net.output_shape()), observed = Tensor::empty(net.output_shape());
  net.forward(images.cview(), plain.view());

  std::vector<std::size_t> seen;
  net.forward(images.cview(), observed.view(),
              [&](std::size_t i, const LayerInfo& info, ConstTensorView a) {
                ASSERT_LT(i, net.layers().size());
                EXPECT_EQ(&info, &net.layers()[i]);
                EXPECT_TRUE(a.is_contiguous() && a.dtype() == DType::F32);
                EXPECT_EQ(a.shape()[0], batch) << info.name;
                if (info.kind == "mlp") {
                  const std::int64_t ch = std::stoll(key_value(info.key, "c"));
                  const std::int64_t hidden =
                      std::lround(ch * std::stod(key_value(info.key, "ratio")));
                  EXPECT_EQ(a.shape(), (Shape{batch, std::stoll(key_value(info.key, "h")),
                                              std::stoll(key_value(info.key, "w")), hidden}))
                      << info.name << " " << info.key;
                }
                if (key_value(info.key, "act") == "relu") {
                  for (std::int64_t k = 0; k < a.numel(); ++k)
                    ASSERT_GE(a.f32()[k], 0.f) << info.name;
                }
                std::int64_t positive = 0;
                for (std::int64_t k = 0; k < a.numel(); ++k) positive += a.f32()[k] > 0;
                // Random weights: neither all units off nor all on.
                EXPECT_GT(positive, 0) << info.name;
                EXPECT_LT(positive, a.numel()) << info.name;
                seen.push_back(i);
              });
  std::vector<std::size_t> want;
  for (std::size_t i = 0; i < net.layers().size(); ++i) {
    if (expect_observed(net.layers()[i])) want.push_back(i);
  }
  EXPECT_EQ(seen, want);
  EXPECT_GT(want.size(), 0u);
  EXPECT_EQ(0, std::memcmp(plain.f32(), observed.f32(), plain.nbytes())) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Archs, ObserverTest,
                         ::testing::Values(Case{"swin_like", archs::swin_like, 32},
                                           Case{"poolformer_like", archs::poolformer_like, 35},
                                           Case{"hybrid_bn", archs::hybrid_bn, 48},
                                           Case{"nat_like", archs::nat_like, 40},
                                           Case{"se_merging_like", archs::se_merging_like, 45}),
                         [](const auto& p) { return p.param.name; });

// hybrid_bn observes its relu stem conv, conv_ffn / hardswish / GLU-StarReLU MLPs and its head's
// GELU fc1: the list by name, so a layer silently dropped from the rule above is caught.
TEST(Observer, HybridBnLayerNames) {
  const Arch arch = archs::hybrid_bn();
  const WeightStore store = make_weight_store(arch, 48, 5);
  const Subnet net =
      Subnet::build(testing::test_engine(), arch, store, {.batch = 2, .resolution = 48});
  std::mt19937_64 rng(testing::fresh_seed("hybrid_bn names"));
  const Tensor images = testing::random_tensor(net.input_shape(), rng);
  Tensor logits = Tensor::empty(net.output_shape());
  std::vector<std::string> names;
  net.forward(
      images.cview(), logits.view(),
      [&](std::size_t, const LayerInfo& info, ConstTensorView) { names.push_back(info.name); });
  EXPECT_EQ(names, (std::vector<std::string>{"stem.convs.0", "stages.0.blocks.0.1.mlp",
                                             "stages.0.blocks.1.1.mlp", "stages.1.blocks.0.1.mlp",
                                             "head.fc1"}));
}

}  // namespace
}  // namespace hwnas
