// EfficientViT cascaded group attention against its float64 reference: maps smaller than the window
// (clamped), maps the window does not divide (zero padding at the bottom/right), a kernel larger
// than the window, batch 2; plus proof that the cascade is there, the bias table's index order and
// the error messages.
#include "kernels/mixers/cascaded_group_attention.hpp"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/cascaded_group_attention_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

double tolerance() { return find_mixer("cascaded_group_attention").tolerance; }

testing::Tolerance mixer_tolerance() {
  const double tol = tolerance();
  return [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); };
}

Tensor run_plan(const CascadedGroupAttentionDesc& d, const ConstTensorView& src,
                const MixerWeights& w) {
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  CascadedGroupAttentionPlan::create(testing::test_engine(), d, w).run(src, dst.view());
  return dst;
}

class CascadedGroupAttentionTest : public ::testing::TestWithParam<CascadedGroupAttentionDesc> {};

TEST_P(CascadedGroupAttentionTest, MatchesFloat64Reference) {
  const CascadedGroupAttentionDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor dst = run_plan(d, src.cview(), w.views);
  EXPECT_TRUE(testing::all_close(key, dst.cview(),
                                 reference::cascaded_group_attention(d, src.cview(), w.views),
                                 mixer_tolerance()));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, CascadedGroupAttentionTest,
    ::testing::Values(
        // One clamped 5x7 window per sample (no partition at all).
        CascadedGroupAttentionDesc{.n = 2, .h = 5, .w = 7, .c = 96, .heads = 4, .key_dim = 16},
        CascadedGroupAttentionDesc{.n = 1, .h = 1, .w = 1, .c = 8, .heads = 2, .key_dim = 4},
        // 13x14 -> padded to 14x14, four 7x7 windows; kernel 3.
        CascadedGroupAttentionDesc{
            .n = 1, .h = 13, .w = 14, .c = 32, .heads = 4, .key_dim = 8, .window = 7, .kernel = 3},
        // Stage 3 of the suite at a quarter of the channels.
        CascadedGroupAttentionDesc{.n = 1, .h = 14, .w = 14, .c = 96, .heads = 4, .key_dim = 16},
        // A 7x5 window (w clamped), padding at the bottom, batch 2.
        CascadedGroupAttentionDesc{.n = 2, .h = 13, .w = 5, .c = 48, .heads = 2, .key_dim = 16},
        // A kernel wider than the 4x4 window; padding on both sides; 3 heads of 8 channels.
        CascadedGroupAttentionDesc{
            .n = 1, .h = 7, .w = 13, .c = 24, .heads = 3, .key_dim = 16, .window = 4, .kernel = 7}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// Without the cascade (each head on its own chunk only) the result is far outside the tolerance:
// the plan really feeds head i-1's output into head i.
TEST(CascadedGroupAttention, CascadeChangesTheResultByFarMoreThanTheTolerance) {
  const CascadedGroupAttentionDesc d{.n = 1, .h = 7, .w = 7, .c = 32, .heads = 4, .key_dim = 8};
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor got = run_plan(d, src.cview(), w.views);
  const reference::RefOutput flat =
      reference::cascaded_group_attention_without_cascade(d, src.cview(), w.views);
  double worst = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const auto idx = static_cast<std::size_t>(i);
    worst = std::max(worst,
                     std::abs(got.f32()[i] - flat.value[idx]) / std::max(flat.magnitude[idx], 1.0));
  }
  EXPECT_GT(worst, 100 * tolerance());
}

// EfficientViT numbers the offsets in the order its itertools loop first meets them; for a wh x ww
// window that order is |dy|*ww + |dx|, the index this mixer (and its reference) uses.
TEST(CascadedGroupAttention, BiasIndexIsEfficientVitsOffsetOrder) {
  for (const auto& [wh, ww] : std::vector<std::pair<int, int>>{{7, 7}, {4, 4}, {5, 7}, {7, 3}}) {
    std::map<std::pair<int, int>, int> offsets;
    for (int a = 0; a < wh * ww; ++a) {
      for (int b = 0; b < wh * ww; ++b) {
        const std::pair<int, int> off{std::abs(a / ww - b / ww), std::abs(a % ww - b % ww)};
        if (offsets.find(off) == offsets.end()) {
          const int next = static_cast<int>(offsets.size());
          offsets[off] = next;
        }
      }
    }
    ASSERT_EQ(static_cast<int>(offsets.size()), wh * ww);
    for (const auto& [off, index] : offsets) {
      EXPECT_EQ(index, off.first * ww + off.second) << wh << "x" << ww;
    }
  }
}

// The table is sized for the clamped window, as EfficientViT builds it.
TEST(CascadedGroupAttention, BiasTableFollowsTheClampedWindow) {
  const auto table_shape = [](CascadedGroupAttentionDesc d) {
    for (const WeightSpec& s : weight_specs(d)) {
      if (s.name == "attention_biases") return s.shape;
    }
    return Shape{};
  };
  EXPECT_EQ(table_shape({.h = 56, .w = 56, .c = 64, .heads = 4}), Shape({4, 49}));
  EXPECT_EQ(table_shape({.h = 4, .w = 4, .c = 64, .heads = 4}), Shape({4, 16}));
  EXPECT_EQ(table_shape({.h = 5, .w = 13, .c = 64, .heads = 2}), Shape({2, 35}));
  const CgaWindows g = cga_windows({.h = 13, .w = 5});
  EXPECT_EQ(g.wh, 7);
  EXPECT_EQ(g.ww, 5);
  EXPECT_EQ(g.nh, 2);
  EXPECT_EQ(g.nw, 1);
}

TEST(CascadedGroupAttention, RefusesBadParamsNamingTheValue) {
  const MixerEntry& entry = find_mixer("cascaded_group_attention");
  const auto error_of = [&](std::vector<std::string> words) -> std::string {
    try {
      entry.check(Params::parse(entry.name, entry.params, words));
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "no throw";
  };
  EXPECT_NE(error_of({"kernel=4"}).find("kernel=4 must be odd"), std::string::npos)
      << error_of({"kernel=4"});
  EXPECT_NE(error_of({"c=96", "heads=5"}).find("heads=5 must divide c=96"), std::string::npos)
      << error_of({"c=96", "heads=5"});
  EXPECT_NE(error_of({"window=0"}).find("window"), std::string::npos);
  EXPECT_NE(error_of({"key_dim=0"}).find("key_dim"), std::string::npos);
  EXPECT_EQ(error_of({"c=96", "heads=96", "kernel=1", "window=1"}), "no throw");
}

TEST(CascadedGroupAttention, CostCountsPaddedTokens) {
  // 13x13 pads to 14x14: 4 windows of 49 tokens.
  const CascadedGroupAttentionDesc d{
      .n = 1, .h = 13, .w = 13, .c = 64, .heads = 4, .key_dim = 16, .window = 7, .kernel = 5};
  const double t = 196, hd = 16, kd = 16;
  const double expected =
      4 * (2 * t * hd * (2 * kd + hd) + 2 * t * kd * 25 + 2 * 4 * 49 * 49 * (kd + hd)) +
      2 * t * 64 * 64;
  EXPECT_DOUBLE_EQ(cost(d).flops, expected);
  EXPECT_EQ(cost(d).params, 4 * (48 * 17 + 16 * 26 + 49) + 64 * 65);
}

}  // namespace
}  // namespace hwnas
