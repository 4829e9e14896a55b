// SHViT single-head attention against its float64 reference at odd sizes, plus the properties the
// reference alone does not pin down: the GroupNorm's statistics are per sample and global over the
// slice, x2 really passes through (into the ReLU and proj), and the errors name the value.
#include "kernels/mixers/single_head_attention.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/single_head_attention_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

double tolerance() { return find_mixer("single_head_attention").tolerance; }

testing::Tolerance mixer_tolerance() {
  const double tol = tolerance();
  return [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); };
}

Tensor run_plan(const SingleHeadAttentionDesc& d, const ConstTensorView& src,
                const MixerWeights& w) {
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  SingleHeadAttentionPlan::create(testing::test_engine(), d, w).run(src, dst.view());
  return dst;
}

class SingleHeadAttentionTest : public ::testing::TestWithParam<SingleHeadAttentionDesc> {};

TEST_P(SingleHeadAttentionTest, MatchesFloat64Reference) {
  const SingleHeadAttentionDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor dst = run_plan(d, src.cview(), w.views);
  EXPECT_TRUE(testing::all_close(key, dst.cview(),
                                 reference::single_head_attention(d, src.cview(), w.views),
                                 mixer_tolerance()));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SingleHeadAttentionTest,
    ::testing::Values(
        SingleHeadAttentionDesc{.n = 2, .h = 5, .w = 7, .c = 96, .pdim = 24, .qk_dim = 16},
        SingleHeadAttentionDesc{.n = 1, .h = 1, .w = 1, .c = 19, .pdim = 5, .qk_dim = 16},
        SingleHeadAttentionDesc{.n = 1, .h = 1, .w = 13, .c = 23, .pdim = 1, .qk_dim = 3},
        // pdim = c: no pass-through channels at all.
        SingleHeadAttentionDesc{.n = 2, .h = 13, .w = 7, .c = 40, .pdim = 40, .qk_dim = 16},
        // SHViT's stage 3 ratio (pdim = c / 4.67 ~ 1/4) at a map that is not a multiple of 32
        // queries.
        SingleHeadAttentionDesc{.n = 1, .h = 14, .w = 14, .c = 96, .pdim = 32, .qk_dim = 16}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// Weights handed over as strided slices of larger tensors (what a supernet passes) give the same
// result as contiguous copies.
TEST(SingleHeadAttention, AcceptsStridedWeights) {
  const SingleHeadAttentionDesc d{.n = 1, .h = 5, .w = 5, .c = 24, .pdim = 8, .qk_dim = 4};
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor big = testing::random_tensor({d.c + 3, d.c + 5}, rng);
  Tensor proj = Tensor::empty({d.c, d.c});
  copy(big.cview().slice(0, 2, 2 + d.c).slice(1, 1, 1 + d.c), proj.view());
  const Tensor dense_proj_ref = [&] {
    MixerWeights v = w.views;
    v.set("proj.weight", proj.cview());
    return run_plan(d, src.cview(), v);
  }();
  MixerWeights strided = w.views;
  strided.set("proj.weight", big.cview().slice(0, 2, 2 + d.c).slice(1, 1, 1 + d.c));
  const Tensor got = run_plan(d, src.cview(), strided);
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    ASSERT_EQ(got.f32()[i], dense_proj_ref.f32()[i]) << i;
  }
}

// The GroupNorm statistics cover the whole pdim x h x w slice of one sample: adding one constant to
// every value of the slice leaves the output unchanged (a per-token or per-channel norm would
// agree, but the reference test rules those out), and the other sample of the batch does not
// influence this one.
TEST(SingleHeadAttention, GroupNormIsPerSampleOverTheWholeSlice) {
  const SingleHeadAttentionDesc d{.n = 2, .h = 7, .w = 5, .c = 32, .pdim = 8, .qk_dim = 8};
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  const Tensor base = run_plan(d, src.cview(), w.views);
  const std::int64_t per_sample = d.h * d.w * d.c;
  const std::int64_t tokens = d.h * d.w;
  for (std::int64_t t = 0; t < tokens; ++t) {
    for (std::int64_t ch = 0; ch < d.pdim; ++ch) src.f32()[per_sample + t * d.c + ch] += 0.75f;
  }
  const Tensor shifted = run_plan(d, src.cview(), w.views);
  for (std::int64_t i = 0; i < base.numel(); ++i) {
    EXPECT_NEAR(shifted.f32()[i], base.f32()[i], 1e-4) << i;
  }
  // Sample 0 alone gives what it gave inside the batch.
  const SingleHeadAttentionDesc one{
      .n = 1, .h = d.h, .w = d.w, .c = d.c, .pdim = d.pdim, .qk_dim = d.qk_dim};
  const Tensor alone = run_plan(one, src.cview().slice(0, 0, 1), w.views);
  for (std::int64_t i = 0; i < alone.numel(); ++i) {
    ASSERT_NEAR(alone.f32()[i], base.f32()[i], 1e-5) << i;
  }
  // A shift of one channel only changes the mean and variance, so the output moves.
  for (std::int64_t t = 0; t < tokens; ++t) src.f32()[t * d.c] += 3.f;
  const Tensor moved = run_plan(d, src.cview(), w.views);
  double max_diff = 0;
  for (std::int64_t i = 0; i < per_sample; ++i) {
    max_diff = std::max(max_diff, static_cast<double>(std::abs(moved.f32()[i] - base.f32()[i])));
  }
  EXPECT_GT(max_diff, 1e-2);
}

// The x2 channels reach proj through the ReLU: with proj = identity they come out as ReLU(x2).
TEST(SingleHeadAttention, PassThroughChannelsGoThroughReluOnly) {
  const SingleHeadAttentionDesc d{.n = 1, .h = 5, .w = 13, .c = 20, .pdim = 6, .qk_dim = 4};
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  const Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  RandomWeights w = make_random_weights(weight_specs(d), rng);
  Tensor eye = Tensor::zeros({d.c, d.c});
  for (std::int64_t i = 0; i < d.c; ++i) eye.f32()[i * d.c + i] = 1.f;
  Tensor zero_bias = Tensor::zeros({d.c});
  w.views.set("proj.weight", eye.cview());
  w.views.set("proj.bias", zero_bias.cview());
  const Tensor dst = run_plan(d, src.cview(), w.views);
  for (std::int64_t t = 0; t < d.h * d.w; ++t) {
    for (std::int64_t ch = 0; ch < d.c; ++ch) {
      const float got = dst.f32()[t * d.c + ch];
      ASSERT_GE(got, 0.f) << t << "," << ch;
      if (ch >= d.pdim) {
        ASSERT_EQ(got, std::max(src.f32()[t * d.c + ch], 0.f)) << t << "," << ch;
      }
    }
  }
}

TEST(SingleHeadAttention, RefusesBadSplitsNamingTheValue) {
  const MixerEntry& entry = find_mixer("single_head_attention");
  const auto error_of = [&](std::vector<std::string> words) -> std::string {
    try {
      entry.check(Params::parse(entry.name, entry.params, words));
    } catch (const InvalidArgument& e) {
      return e.what();
    }
    return "no throw";
  };
  EXPECT_NE(error_of({"c=16", "pdim=17"}).find("pdim=17 must be <= c=16"), std::string::npos)
      << error_of({"c=16", "pdim=17"});
  // The default pdim=32 does not fit 16 channels either.
  EXPECT_NE(error_of({"c=16"}).find("pdim=32"), std::string::npos) << error_of({"c=16"});
  EXPECT_NE(error_of({"pdim=0"}).find("pdim"), std::string::npos) << error_of({"pdim=0"});
  EXPECT_NE(error_of({"qk_dim=0"}).find("qk_dim"), std::string::npos) << error_of({"qk_dim=0"});
  EXPECT_EQ(error_of({"c=16", "pdim=16"}), "no throw");
  try {
    check(SingleHeadAttentionDesc{.c = 8, .pdim = 9});
    FAIL() << "no throw";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("pdim=9"), std::string::npos) << e.what();
  }
}

TEST(SingleHeadAttention, CostCountsProjectionsAndAttention) {
  const SingleHeadAttentionDesc d{.n = 1, .h = 56, .w = 56, .c = 96, .pdim = 24, .qk_dim = 16};
  const double t = 3136;
  const OpCost c = cost(d);
  EXPECT_DOUBLE_EQ(c.flops, 2 * t * 24 * 56 + 2 * t * t * (16 + 24) + 2 * t * 96 * 96);
  EXPECT_EQ(c.params, 2 * 24 + 56 * 25 + 96 * 97);
  EXPECT_DOUBLE_EQ(c.bytes, 4.0 * (2 * t * 96 + static_cast<double>(c.params)));
}

}  // namespace
}  // namespace hwnas
