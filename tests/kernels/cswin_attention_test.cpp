#include "kernels/mixers/cswin_attention.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/cswin_attention_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

// The mixer's stated tolerance (kTolerance in cswin_attention.cpp, derived there).
double tolerance() { return find_mixer("cswin_attention").tolerance; }

testing::Tolerance scaled_tolerance() {
  const double tol = tolerance();
  return [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); };
}

// max over elements of |a - b| / max(magnitude, 1).
double max_scaled_difference(const reference::RefOutput& a, const reference::RefOutput& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.value.size(); ++i) {
    worst = std::max(worst, std::abs(a.value[i] - b.value[i]) / std::max(a.magnitude[i], 1.0));
  }
  return worst;
}

struct Case {
  RandomWeights weights;
  Tensor src;
};

Case make_case(const CswinAttentionDesc& d, std::mt19937_64& rng) {
  Case c{.weights = make_random_weights(weight_specs(d), rng),
         .src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng)};
  return c;
}

class CswinAttentionTest : public ::testing::TestWithParam<CswinAttentionDesc> {};

TEST_P(CswinAttentionTest, MatchesFloat64Reference) {
  const CswinAttentionDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Case c = make_case(d, rng);
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  const CswinAttentionPlan plan =
      CswinAttentionPlan::create(testing::test_engine(), d, c.weights.views);
  plan.run(c.src.cview(), dst.view());
  EXPECT_TRUE(testing::all_close(key, dst.cview(),
                                 reference::cswin_attention(d, c.src.cview(), c.weights.views),
                                 scaled_tolerance()))
      << plan.impl_name();
}

// Odd maps, stripes that divide neither side, a stripe wider than the map, windows of more than
// the 64 queries one attention_tile call takes (T = 98, 169), head dims 6..48, batch 2, one and two
// branches, with and without qkv bias.
INSTANTIATE_TEST_SUITE_P(
    Shapes, CswinAttentionTest,
    ::testing::Values(
        CswinAttentionDesc{.n = 2, .h = 13, .w = 14, .c = 32, .heads = 4, .sw = 3},
        CswinAttentionDesc{.n = 1, .h = 1, .w = 5, .c = 24, .heads = 2, .sw = 7},
        CswinAttentionDesc{.n = 1, .h = 7, .w = 7, .c = 48, .heads = 2, .sw = 7},
        CswinAttentionDesc{
            .n = 2, .h = 5, .w = 13, .c = 24, .heads = 2, .sw = 1, .qkv_bias = Bias::None},
        CswinAttentionDesc{.n = 1, .h = 14, .w = 14, .c = 36, .heads = 6, .sw = 2},
        CswinAttentionDesc{.n = 1, .h = 14, .w = 14, .c = 96, .heads = 4, .sw = 7},
        CswinAttentionDesc{.n = 2, .h = 13, .w = 7, .c = 24, .heads = 3, .sw = 7, .branches = 1},
        CswinAttentionDesc{.n = 1, .h = 13, .w = 13, .c = 16, .heads = 2, .sw = 1, .branches = 1},
        CswinAttentionDesc{.n = 1,
                           .h = 1,
                           .w = 1,
                           .c = 16,
                           .heads = 1,
                           .sw = 7,
                           .branches = 1,
                           .qkv_bias = Bias::None}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// LePE must see only its own window, with zeros beyond the window border (get_lepe): a reference
// whose conv reads across stripe borders must differ by far more than the tolerance, so a plan
// that leaked across borders could not pass MatchesFloat64Reference.
TEST(CswinAttention, LepeIsWindowed) {
  const CswinAttentionDesc d{.n = 1, .h = 7, .w = 9, .c = 32, .heads = 2, .sw = 2};
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  const Case c = make_case(d, rng);
  const auto windowed = reference::cswin_attention(d, c.src.cview(), c.weights.views);
  const auto whole =
      reference::cswin_attention(d, c.src.cview(), c.weights.views, reference::LepeScope::WholeMap);
  EXPECT_GT(max_scaled_difference(windowed, whole), 100 * tolerance());
}

// With proj = identity the output channels are the branch outputs (+ proj.bias). Changing one
// input token (row 0, column 0) with sw = 1 may change channels [0, c/2) only in column 0
// (vertical stripes, the first half as in the official code) and channels [c/2, c) only in row 0.
TEST(CswinAttention, FirstHalfIsVerticalStripesSecondHalfHorizontal) {
  const CswinAttentionDesc d{.n = 1, .h = 5, .w = 6, .c = 16, .heads = 2, .sw = 1};
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  Case c = make_case(d, rng);
  Tensor identity = Tensor::zeros({d.c, d.c});
  for (std::int64_t i = 0; i < d.c; ++i) identity.f32()[i * d.c + i] = 1.f;
  MixerWeights w = c.weights.views;
  w.set("proj.weight", identity.cview());
  const CswinAttentionPlan plan = CswinAttentionPlan::create(testing::test_engine(), d, w);
  Tensor before = Tensor::empty({d.n, d.h, d.w, d.c});
  Tensor after = Tensor::empty({d.n, d.h, d.w, d.c});
  plan.run(c.src.cview(), before.view());
  for (std::int64_t ch = 0; ch < d.c; ++ch) c.src.f32()[ch] += 0.5f;
  plan.run(c.src.cview(), after.view());
  for (std::int64_t y = 0; y < d.h; ++y) {
    for (std::int64_t x = 0; x < d.w; ++x) {
      double change_first = 0, change_second = 0;
      for (std::int64_t ch = 0; ch < d.c; ++ch) {
        const std::int64_t i = (y * d.w + x) * d.c + ch;
        const double diff = std::abs(after.f32()[i] - before.f32()[i]);
        (ch < d.c / 2 ? change_first : change_second) += diff;
      }
      EXPECT_EQ(change_first > 0, x == 0) << "y=" << y << " x=" << x;
      EXPECT_EQ(change_second > 0, y == 0) << "y=" << y << " x=" << x;
    }
  }
}

void expect_invalid(const CswinAttentionDesc& d, const std::string& substring) {
  try {
    check(d);
    FAIL() << "no throw for " << to_string(d);
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(to_string(d)), std::string::npos) << e.what();
  }
}

TEST(CswinAttention, RefusesInvalidDescs) {
  expect_invalid({.c = 96, .heads = 3, .branches = 2}, "heads=3 must be even with branches=2");
  expect_invalid({.c = 96, .heads = 5, .branches = 1}, "heads=5 must divide c=96");
  expect_invalid({.c = 100, .heads = 8, .branches = 2}, "heads=8 must divide c=100");
  expect_invalid({.sw = 0}, "sw=0 must be >= 1");
  expect_invalid({.branches = 3}, "branches=3 must be 1 or 2");
  expect_invalid({.h = 0}, "h=0 must be >= 1");
}

TEST(CswinAttention, KeyParsesBackAndDefaultsAreValid) {
  const MixerEntry& entry = find_mixer("cswin_attention");
  const std::vector<std::string> words = {"heads=12", "sw=7", "h=14", "w=14", "c=384"};
  const Params p = Params::parse("cswin_attention", entry.params, words);
  const CswinAttentionDesc d = cswin_attention_desc_from(p);
  EXPECT_EQ(to_string(d),
            "cswin_attention:n=1,h=14,w=14,c=384,heads=12,sw=7,branches=2,qkv_bias=1");
  EXPECT_EQ(
      cswin_attention_desc_from(Params::from_key("cswin_attention", entry.params, to_string(d))),
      d);
}

// Stage 1 of CSWin-T at 56x56x96, sw=1: the projections (2*3136*96*384) dominate; the stripes add
// 4*T*T*d per window and head.
TEST(CswinAttention, CostCountsProjectionsAttentionAndLepe) {
  const CswinAttentionDesc d{.n = 1, .h = 56, .w = 56, .c = 96, .heads = 2, .sw = 1};
  const double tokens = 56.0 * 56.0;
  const double proj = 2.0 * tokens * 96 * 4 * 96;
  const double attention = 2 /*branches*/ * 56 /*stripes*/ * 1 /*head*/ * 4.0 * 56 * 56 * 48;
  const double lepe = 2 * 56 * 56 * 48 * 18.0;
  const OpCost cost_value = cost(d);
  EXPECT_DOUBLE_EQ(cost_value.flops, proj + attention + lepe);
  EXPECT_EQ(cost_value.params, 3 * 96 * 96 + 3 * 96 + 96 * 96 + 96 + 2 * (48 * 9 + 48));
}

}  // namespace
}  // namespace hwnas
