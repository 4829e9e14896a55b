#include "kernels/layers/mlp.hpp"

#include <gtest/gtest.h>

#include "kernels/reference/mlp_ref.hpp"
#include "tests/kernels/layer_test_util.hpp"

namespace hwnas {
namespace {

using testing::expect_layer_error;
using testing::expect_layer_matches_reference;

struct Case {
  std::string layer;
  std::vector<std::string> words;
};

class MlpReference : public ::testing::TestWithParam<Case> {};

TEST_P(MlpReference, MatchesFloat64Reference) {
  expect_layer_matches_reference(GetParam().layer, GetParam().words);
}

// Odd maps (1x1, 5x7, 13x13), batch 2, odd channels, every activation and residual mode.
INSTANTIATE_TEST_SUITE_P(
    Configs, MlpReference,
    ::testing::Values(
        Case{"mlp", {"n=2", "h=5", "w=7", "c=19", "act=gelu_erf"}},
        Case{"mlp", {"h=1", "w=1", "c=1", "ratio=3", "act=relu"}},
        Case{"mlp", {"h=13", "w=13", "c=96", "act=star_relu", "residual=layer_scale"}},
        Case{"mlp", {"h=7", "w=5", "c=23", "ratio=2.5", "act=hardswish", "residual=add"}},
        Case{"conv_ffn", {"n=2", "h=5", "w=7", "c=19", "act=gelu_erf"}},
        Case{"conv_ffn", {"h=1", "w=1", "c=8", "act=relu", "residual=add"}},
        Case{"conv_ffn",
             {"h=13", "w=14", "c=32", "ratio=8", "act=star_relu", "residual=layer_scale"}},
        Case{"glu_mlp", {"n=2", "h=5", "w=7", "c=19", "act=gelu_erf"}},
        Case{"glu_mlp",
             {"h=13", "w=13", "c=96", "ratio=2.6667", "act=star_relu", "residual=layer_scale"}},
        Case{"glu_mlp", {"h=1", "w=1", "c=3", "act=hardswish", "residual=add"}}),
    [](const auto& p) {
      std::string name = p.param.layer;
      for (const std::string& w : p.param.words) name += "_" + w;
      return testing::key_to_test_name(name);
    });

// The block frame: residual distinct from src (src = norm(x), residual = x), fused and separate.
TEST(Mlp, ExplicitResidualFusedAndSeparateAgree) {
  for (const MlpKind kind : {MlpKind::Mlp, MlpKind::ConvFfn, MlpKind::GluMlp}) {
    const MlpDesc d{.kind = kind,
                    .n = 2,
                    .h = 5,
                    .w = 3,
                    .c = 24,
                    .ratio = 4,
                    .act = Activation::GeluErf,
                    .residual = Residual::ScaledAdd};
    const std::string key = to_string(d);
    std::mt19937_64 rng(testing::fresh_seed(key));
    const Tensor src = testing::random_tensor(src_shape(d), rng);
    const Tensor residual = testing::random_tensor(src_shape(d), rng);
    RandomWeights w = make_random_weights(weight_specs(d), rng);
    const auto ref = reference::mlp(d, src.cview(), w.views, residual.cview());
    for (const ResidualFusion fusion : {ResidualFusion::PostOp, ResidualFusion::Separate}) {
      const MlpPlan plan = MlpPlan::create(testing::test_engine(), d, w.views, {.fusion = fusion});
      Tensor dst = Tensor::empty(dst_shape(d));
      testing::poison(dst.view());
      plan.run(src.cview(), residual.cview(), dst.view());
      EXPECT_TRUE(testing::all_close(key, dst.cview(), ref, [](double, double mag, std::int64_t) {
        return 3e-4 * std::max(mag, 1.0);
      })) << plan.impl_name();
    }
  }
}

TEST(Mlp, KeyRoundTripsAndCosts) {
  const MlpDesc d{.kind = MlpKind::GluMlp, .c = 96, .ratio = 2.5, .residual = Residual::Add};
  EXPECT_EQ(to_string(d), "glu_mlp:n=1,h=56,w=56,c=96,ratio=2.5,act=gelu_erf,residual=add");
  const Params p = Params::from_key("glu_mlp", mlp_params(), to_string(d));
  EXPECT_EQ(mlp_desc_from(MlpKind::GluMlp, p), d);
  EXPECT_EQ(mlp_hidden(d), 240);
  EXPECT_EQ(cost(d).params, 480 * 96 + 480 + 96 * 240 + 96);
  const MlpDesc m{.c = 96};
  EXPECT_DOUBLE_EQ(cost(m).flops, 2.0 * 2 * 3136 * 96 * 384);
}

TEST(Mlp, ErrorsNameTheValue) {
  expect_layer_error("mlp", {"c=0"}, "c=0 is out of range");
  expect_layer_error("mlp", {"c=3", "ratio=0.1"}, "ratio=0.1 must be in (0, 64]");
  expect_layer_error("glu_mlp", {"act=silu"}, "silu");
  expect_layer_error("conv_ffn", {"residual=scale"}, "scale");
  // Weights are checked by name and shape before anything is prepared.
  const MlpDesc d{.h = 3, .w = 3, .c = 8};
  std::mt19937_64 rng(1);
  RandomWeights w = make_random_weights(weight_specs(d), rng);
  Tensor extra = Tensor::zeros({8});
  w.views.set("ls.gamma", extra.cview());
  try {
    MlpPlan::create(testing::test_engine(), d, w.views);
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected weight 'ls.gamma'"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace hwnas
