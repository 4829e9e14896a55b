// window_attention against a float64 reference written step by step from torchvision's
// shifted_window_attention (explicit pad, roll, partition, mask, merge, roll back; no code shared
// with the fast path), at odd sizes, maps the window does not divide, non-square windows, shifts in
// one or both dimensions, windows that cover the map (shift must become 0), batch 2. The tolerance
// is the registry's (kTolerance in window_attention.cpp, derived there): |got - ref| <= 2e-4 *
// max(magnitude, 1).
#include "kernels/mixers/window_attention.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <ostream>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/reference/window_attention_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {

// gtest prints a failing parameter by its canonical key.
void PrintTo(const WindowAttentionDesc& desc, std::ostream* os) { *os << to_string(desc); }

namespace {

double tolerance() { return find_mixer("window_attention").tolerance; }

// Largest |got - ref| / max(magnitude, 1): what the tolerance is compared with.
double max_scaled_error(const ConstTensorView& got, const reference::RefOutput& ref) {
  double worst = 0;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const auto idx = static_cast<std::size_t>(i);
    const double err = std::abs(reference::at(got, i) - ref.value[idx]);
    worst = std::max(worst, std::isnan(err) ? INFINITY : err / std::max(ref.magnitude[idx], 1.0));
  }
  return worst;
}

double max_scaled_difference(const reference::RefOutput& a, const reference::RefOutput& b) {
  double worst = 0;
  for (std::size_t i = 0; i < a.value.size(); ++i) {
    worst = std::max(worst, std::abs(a.value[i] - b.value[i]) / std::max(a.magnitude[i], 1.0));
  }
  return worst;
}

struct Case {
  WindowAttentionDesc desc;
  RandomWeights weights;
  Tensor src;
};

Case make_case(const WindowAttentionDesc& d, std::mt19937_64& rng) {
  Case c{.desc = d, .weights = make_random_weights(weight_specs(d), rng), .src = {}};
  c.src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  return c;
}

Tensor run_plan(const Case& c) {
  const WindowAttentionPlan plan =
      WindowAttentionPlan::create(testing::test_engine(), c.desc, c.weights.views);
  Tensor dst = Tensor::empty({c.desc.n, c.desc.h, c.desc.w, c.desc.c});
  testing::poison(dst.view());
  plan.run(c.src.cview(), dst.view());
  return dst;
}

::testing::AssertionResult close_to(const std::string& key, const Tensor& got,
                                    const reference::RefOutput& ref) {
  const double tol = tolerance();
  return testing::all_close(key, got.cview(), ref, [tol](double, double mag, std::int64_t) {
    return tol * std::max(mag, 1.0);
  });
}

// A desc from "name=value,..." (canonical-key syntax without the op name): test cases as data.
WindowAttentionDesc desc_of(const std::string& assignments) {
  std::vector<std::string> words;
  std::size_t begin = 0;
  while (begin <= assignments.size()) {
    const std::size_t end = std::min(assignments.find(',', begin), assignments.size());
    words.push_back(assignments.substr(begin, end - begin));
    begin = end + 1;
  }
  return window_attention_desc_from(
      Params::parse("window_attention", window_attention_params(), words));
}

class WindowAttentionTest : public ::testing::TestWithParam<std::string> {};

TEST_P(WindowAttentionTest, MatchesFloat64Reference) {
  const WindowAttentionDesc d = desc_of(GetParam());
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Case c = make_case(d, rng);
  const Tensor got = run_plan(c);
  const reference::RefOutput ref = reference::window_attention(d, c.src.cview(), c.weights.views);
  EXPECT_TRUE(close_to(key, got, ref));
  const double worst = max_scaled_error(got.cview(), ref);
  ::testing::Test::RecordProperty("max_scaled_error", std::to_string(worst));
  std::fprintf(stderr, "[error] %s max |got-ref|/max(mag,1) = %.3g (tolerance %.3g)\n", key.c_str(),
               worst, tolerance());
}

// Each case names what it exercises; c/heads gives head dims 4..32, odd ones included.
INSTANTIATE_TEST_SUITE_P(
    Shapes, WindowAttentionTest,
    ::testing::Values(
        // Shifted windows wrap, map not divisible by the window, batch 2.
        "n=2,h=13,w=14,c=24,heads=3,window=7,shift=3",
        // Divisible map, Swin's head dim 32.
        "n=1,h=14,w=14,c=64,heads=2,window=7,shift=3",
        // Window covers the map: padded to 7x7, shift becomes 0 in both dimensions.
        "n=2,h=5,w=7,c=12,heads=3,window=7,shift=3", "n=2,h=1,w=1,c=8,heads=2,window=7,shift=3",
        // Window covers the rows only: shift 0 in h, 3 in w (torchvision's -0 slice case).
        "n=1,h=5,w=14,c=21,heads=3,window=7,shift=3",
        // Non-square windows, different shifts per dimension.
        "n=2,h=13,w=14,c=20,heads=4,window=3,window_w=5,shift=1,shift_w=2",
        // Shift in one dimension only, by choice.
        "n=1,h=14,w=13,c=15,heads=3,window=4,window_w=6,shift=2,shift_w=0",
        "n=1,h=13,w=7,c=16,heads=2,window=5,window_w=3,shift=0,shift_w=1",
        // No shift, odd map.
        "n=2,h=13,w=13,c=18,heads=2,window=7,shift=0",
        // No qkv bias: padded tokens' q/k/v are then exactly 0.
        "n=2,h=13,w=5,c=12,heads=2,window=4,shift=2,qkv_bias=0",
        // Swin stage 1 geometry (56x56, 7x7 windows shifted by 3) at small c.
        "n=1,h=56,w=56,c=8,heads=2,window=7,shift=3",
        // Swin stage 4 at its real width: 7x7 map, the window covers it.
        "n=1,h=7,w=7,c=768,heads=24,window=7,shift=3"),
    [](const auto& p) { return testing::key_to_test_name(p.param); });

// The demand: the test must fail if the mask is wrong. On a map where shifted windows wrap,
// the reference without the mask differs from the correct one by far more than the tolerance, and
// the fast path matches only the masked one.
TEST(WindowAttentionMask, LeavingTheMaskOutIsDetected) {
  const WindowAttentionDesc d = desc_of("n=2,h=13,w=14,c=16,heads=2,window=7,shift=3");
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Case c = make_case(d, rng);
  const auto masked = reference::window_attention(d, c.src.cview(), c.weights.views);
  const auto unmasked =
      reference::window_attention(d, c.src.cview(), c.weights.views, reference::ShiftMask::Omit);
  const double difference = max_scaled_difference(masked, unmasked);
  std::fprintf(stderr, "[mask] %s masked vs unmasked reference: %.3g (tolerance %.3g)\n",
               key.c_str(), difference, tolerance());
  EXPECT_GT(difference, 100 * tolerance());
  const Tensor got = run_plan(c);
  EXPECT_TRUE(close_to(key, got, masked));
  EXPECT_FALSE(close_to(key, got, unmasked));
}

// Without shift there is no mask, so the two reference variants agree exactly.
TEST(WindowAttentionMask, NoShiftMeansNoMask) {
  const WindowAttentionDesc d = desc_of("n=1,h=13,w=14,c=8,heads=2,window=7,shift=0");
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  const Case c = make_case(d, rng);
  const auto masked = reference::window_attention(d, c.src.cview(), c.weights.views);
  const auto unmasked =
      reference::window_attention(d, c.src.cview(), c.weights.views, reference::ShiftMask::Omit);
  EXPECT_EQ(masked.value, unmasked.value);
}

// Where the window covers the padded map, the shift is 0 (torchvision), so shift=3 and shift=0 run
// the same computation: the outputs are bitwise equal.
TEST(WindowAttentionShift, IsZeroWhereTheWindowCoversTheMap) {
  WindowAttentionDesc d = desc_of("n=2,h=6,w=7,c=12,heads=3,window=7,shift=3");
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  Case shifted = make_case(d, rng);
  const Tensor a = run_plan(shifted);
  shifted.desc.shift = shifted.desc.shift_w = 0;
  const Tensor b = run_plan(shifted);
  for (std::int64_t i = 0; i < a.numel(); ++i) ASSERT_EQ(a.f32()[i], b.f32()[i]) << i;
}

TEST(WindowAttentionKey, ResolvesWindowWAndShiftWAndRoundTrips) {
  const std::vector<std::string> words = {"h=56", "w=56", "c=96", "heads=3", "window=7", "shift=3"};
  const Params p = Params::parse("window_attention", window_attention_params(), words);
  const WindowAttentionDesc d = window_attention_desc_from(p);
  EXPECT_EQ(d.window_w, 7);
  EXPECT_EQ(d.shift_w, 3);
  const std::string key = to_string(d);
  EXPECT_EQ(key,
            "window_attention:n=1,h=56,w=56,c=96,heads=3,window=7,window_w=7,shift=3,shift_w=3,"
            "qkv_bias=1");
  EXPECT_EQ(window_attention_desc_from(
                Params::from_key("window_attention", window_attention_params(), key)),
            d);
  const std::vector<std::string> explicit_words = {"window=4", "window_w=6", "shift=0", "shift_w=5",
                                                   "qkv_bias=0"};
  const WindowAttentionDesc e = window_attention_desc_from(
      Params::parse("window_attention", window_attention_params(), explicit_words));
  EXPECT_EQ(e.window, 4);
  EXPECT_EQ(e.window_w, 6);
  EXPECT_EQ(e.shift, 0);
  EXPECT_EQ(e.shift_w, 5);
  EXPECT_EQ(e.qkv_bias, Bias::None);
}

TEST(WindowAttentionCost, CountsSwinStage1) {
  const WindowAttentionDesc d = desc_of("n=1,h=56,w=56,c=96,heads=3,window=7,shift=3");
  const OpCost c = cost(d);
  // Swin's 4hwC^2 + 2M^2hwC in multiply-adds: 8*3136*96^2 + 4*3136*49*96 FLOPs.
  EXPECT_DOUBLE_EQ(c.flops, 8.0 * 3136 * 96 * 96 + 4.0 * 3136 * 49 * 96);
  // qkv 96*288 + 288, proj 96*96 + 96, table 13*13*3: torchvision's ShiftedWindowAttention.
  EXPECT_EQ(c.params, 27936 + 9312 + 507);
  EXPECT_DOUBLE_EQ(c.bytes, 4.0 * (2 * 3136 * 96 + 37755));
  // A padded map runs attention on every padded window.
  const WindowAttentionDesc padded = desc_of("n=1,h=13,w=13,c=8,heads=2");
  EXPECT_DOUBLE_EQ(cost(padded).flops, 8.0 * 169 * 64 + 4.0 * 196 * 49 * 8);
}

void expect_invalid(const std::vector<std::string>& words, const std::string& needle) {
  try {
    window_attention_desc_from(Params::parse("window_attention", window_attention_params(), words));
    ADD_FAILURE() << "no throw for " << needle;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(WindowAttentionErrors, NameTheBadValue) {
  expect_invalid({"c=96", "heads=5"}, "heads=5 must divide c=96");
  expect_invalid({"window=7", "shift=7"}, "shift=7 must be in [0, window=7)");
  expect_invalid({"window=7", "window_w=3", "shift=3"}, "shift_w=3 must be in [0, window_w=3)");
  expect_invalid({"window=7", "window_w=5", "shift_w=5"}, "shift_w=5 must be in [0, window_w=5)");
  expect_invalid({"window=40", "window_w=30"}, "1200 tokens exceeds 1024");
  expect_invalid({"heads=0"}, "heads");
  expect_invalid({"shift_w=-2"}, "shift_w");
  // The key names the whole problem.
  expect_invalid({"c=10", "heads=4"}, "[window_attention:n=1,h=56,w=56,c=10,heads=4,");

  const WindowAttentionDesc no_bias = desc_of("n=1,h=7,w=7,c=8,heads=2,qkv_bias=0");
  std::mt19937_64 rng(1);
  WindowAttentionDesc with_bias = no_bias;
  with_bias.qkv_bias = Bias::Add;
  const RandomWeights w = make_random_weights(weight_specs(with_bias), rng);
  try {
    WindowAttentionPlan::create(testing::test_engine(), no_bias, w.views);
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected weight 'qkv.bias'"), std::string::npos)
        << e.what();
  }
  MixerWeights wrong_table = w.views;
  Tensor table = Tensor::zeros({169, 3});
  wrong_table.set("relative_position_bias_table", table.cview());
  try {
    WindowAttentionPlan::create(testing::test_engine(), with_bias, wrong_table);
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("'relative_position_bias_table' has shape [169,3], "
                                         "expected [169,2]"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace hwnas
