#include "kernels/mixers/neighborhood_attention.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <ostream>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/reference/neighborhood_attention_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {

// gtest prints parameters through this (found by ADL): the canonical key, not raw bytes.
void PrintTo(const NeighborhoodAttentionDesc& desc, std::ostream* os) { *os << to_string(desc); }

namespace {

using cpu::NaCoreIsa;
using Desc = NeighborhoodAttentionDesc;

double tolerance() { return find_mixer("neighborhood_attention").tolerance; }

const char* isa_name(NaCoreIsa isa) { return isa == NaCoreIsa::Avx512 ? "avx512" : "portable"; }

// Skips (true) when this CPU cannot run the forced path.
bool unsupported_here(const Desc& d, NaCoreIsa isa) {
  const cpu::NaGeometry g{.kernel = d.kernel};
  return !cpu::NeighborhoodAttentionCore::why_not(g, isa).empty();
}

std::vector<Desc> shapes() {
  return {
      // A kernel row of 3 at batch 2 on a map 16 columns do not divide.
      {.n = 2, .h = 13, .w = 14, .c = 24, .heads = 3, .kernel = 3},
      // The window is the whole map: every query is a border query.
      {.h = 7, .w = 7, .c = 16, .heads = 2, .kernel = 7},
      // Stage-1 size with a small c: interior blocks, border blocks and a partial last block.
      {.h = 56, .w = 56, .c = 8, .heads = 1, .kernel = 7},
      // head_dim 5 (chunks 4 + 1), dilation 2 on odd sides: groups of different lengths.
      {.h = 14, .w = 13, .c = 20, .heads = 4, .kernel = 5, .dilation = 2},
      // Dilation 4 on 13 x 29 (groups of 4 and 3 rows, 8 and 7 columns).
      {.h = 13, .w = 29, .c = 12, .heads = 3, .kernel = 3, .dilation = 4},
      // kernel 9 on a wide map; kernel 9 dilation 3 filling the map exactly.
      {.h = 14, .w = 37, .c = 16, .heads = 2, .kernel = 9},
      {.h = 27, .w = 30, .c = 8, .heads = 1, .kernel = 9, .dilation = 3},
      // DiNAT's stage-1 dilation: every group of 7 is one window.
      {.h = 56, .w = 56, .c = 8, .heads = 2, .kernel = 7, .dilation = 8},
      // No qkv bias, no rpb.
      {.n = 2,
       .h = 13,
       .w = 15,
       .c = 12,
       .heads = 2,
       .kernel = 5,
       .qkv_bias = Bias::None,
       .rel_pos = false},
      // The largest vector kernel and one only the portable path runs.
      {.h = 14, .w = 20, .c = 8, .heads = 2, .kernel = 13},
      {.h = 15, .w = 16, .c = 4, .heads = 1, .kernel = 15},
      // Blocks mixing two dilation groups whose keys lie more than 32 columns apart (the vector
      // path's general clamped kernel).
      {.h = 26, .w = 59, .c = 4, .heads = 1, .kernel = 13, .dilation = 2},
      // pad=1: maps smaller than kernel * dilation run padded and cropped, like the NAT modules.
      {.h = 1, .w = 1, .c = 16, .heads = 2, .kernel = 3, .pad = true},
      {.n = 2, .h = 5, .w = 13, .c = 12, .heads = 3, .kernel = 7, .pad = true},
      {.h = 5, .w = 9, .c = 8, .heads = 2, .kernel = 3, .dilation = 4, .pad = true},
      {.h = 1, .w = 20, .c = 8, .heads = 1, .kernel = 5, .dilation = 2, .pad = true},
      // pad=1 on a map that needs no padding changes nothing.
      {.h = 13, .w = 14, .c = 8, .heads = 2, .kernel = 5, .pad = true},
  };
}

class NeighborhoodAttentionTest : public ::testing::TestWithParam<std::tuple<Desc, NaCoreIsa>> {};

TEST_P(NeighborhoodAttentionTest, MatchesFloat64Reference) {
  const auto [d, isa] = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  if (unsupported_here(d, isa)) {
    // A core that cannot run this desc (kernel above the vector limit, or no AVX-512 here) must
    // refuse at create with its reason, never run wrongly: that refusal is what this case tests.
    try {
      NeighborhoodAttentionPlan::create(testing::test_engine(), d, w.views, isa);
      FAIL() << isa_name(isa) << " accepted " << key;
    } catch (const Unsupported& e) {
      EXPECT_NE(std::string(e.what()).find("cannot run"), std::string::npos) << e.what();
    }
    return;
  }
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  const auto plan = NeighborhoodAttentionPlan::create(testing::test_engine(), d, w.views, isa);
  EXPECT_NE(plan.impl_name().find(isa_name(isa)), std::string::npos) << plan.impl_name();
  plan.run(src.cview(), dst.view());
  const double tol = tolerance();
  EXPECT_TRUE(testing::all_close(
      key, dst.cview(), reference::neighborhood_attention(d, src.cview(), w.views),
      [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); }))
      << plan.impl_name();
}

INSTANTIATE_TEST_SUITE_P(Shapes, NeighborhoodAttentionTest,
                         ::testing::Combine(::testing::ValuesIn(shapes()),
                                            ::testing::Values(NaCoreIsa::Avx512,
                                                              NaCoreIsa::Portable)),
                         [](const auto& p) {
                           return testing::key_to_test_name(to_string(std::get<0>(p.param))) + "_" +
                                  isa_name(std::get<1>(p.param));
                         });

// Weights as slices of larger tensors (what a supernet passes): rpb is the centre of a table for
// a larger kernel, qkv.weight the leading rows and columns of a wider matrix.
TEST(NeighborhoodAttention, AcceptsStridedWeights) {
  const Desc d{.h = 9, .w = 11, .c = 8, .heads = 2, .kernel = 5};
  const std::string key = to_string(d);
  std::mt19937_64 rng(testing::fresh_seed(key));
  Tensor src = testing::random_tensor({d.n, d.h, d.w, d.c}, rng);
  RandomWeights w = make_random_weights(weight_specs(d), rng);
  Tensor big_rpb = testing::random_tensor({3, 13, 13}, rng);
  Tensor big_qkv = testing::random_tensor({40, 12}, rng, -0.3f, 0.3f);
  w.views.set("rpb", big_rpb.cview().slice(0, 0, 2).slice(1, 2, 11).slice(2, 2, 11));
  w.views.set("qkv.weight", big_qkv.cview().slice(0, 0, 24).slice(1, 0, 8));
  Tensor dst = Tensor::empty({d.n, d.h, d.w, d.c});
  testing::poison(dst.view());
  NeighborhoodAttentionPlan::create(testing::test_engine(), d, w.views)
      .run(src.cview(), dst.view());
  const double tol = tolerance();
  EXPECT_TRUE(testing::all_close(
      key, dst.cview(), reference::neighborhood_attention(d, src.cview(), w.views),
      [tol](double, double mag, std::int64_t) { return tol * std::max(mag, 1.0); }));
}

// A hand-computed case: one channel, q = 0 (so the logits are the rpb entries alone), v = x and
// proj = identity, so each output is sum_window softmax(rpb entries) * x over its window. At a
// border the window shifts inward (NAT), instead of shrinking or reading zero padding, and the
// bias entries it reads move with it.
class NeighborhoodAttentionBorder : public ::testing::TestWithParam<NaCoreIsa> {};

TEST_P(NeighborhoodAttentionBorder, ShiftsInwardAndReadsTheShiftedBias) {
  const NaCoreIsa isa = GetParam();
  const Desc d{
      .h = 7, .w = 7, .c = 1, .heads = 1, .kernel = 3, .dilation = 2, .qkv_bias = Bias::None};
  if (unsupported_here(d, isa)) {
    // Only the portable core runs on a CPU without AVX-512; its own instance covers this case.
    EXPECT_EQ(isa, NaCoreIsa::Avx512);
    return;
  }
  Tensor qkv_w = Tensor::zeros({3, 1});
  qkv_w.f32()[2] = 1.f;  // v = x; q = k = 0
  Tensor rpb = Tensor::empty({1, 5, 5});
  for (int i = 0; i < 25; ++i) rpb.f32()[i] = 0.1f * static_cast<float>(i % 7) - 0.2f * (i / 5);
  Tensor proj_w = Tensor::empty({1, 1});
  proj_w.f32()[0] = 1.f;
  Tensor proj_b = Tensor::zeros({1});
  MixerWeights w;
  w.set("qkv.weight", qkv_w.cview());
  w.set("rpb", rpb.cview());
  w.set("proj.weight", proj_w.cview());
  w.set("proj.bias", proj_b.cview());
  Tensor src = Tensor::empty({1, 7, 7, 1});
  for (int i = 0; i < 49; ++i) src.f32()[i] = static_cast<float>((i * 37) % 11) - 5.f;
  Tensor dst = Tensor::empty({1, 7, 7, 1});
  testing::poison(dst.view());
  NeighborhoodAttentionPlan::create(testing::test_engine(), d, w, isa).run(src.cview(), dst.view());

  // Dilation 2 on a side of 7: group 0 is {0, 2, 4, 6}, group 1 is {1, 3, 5}. Windows of 3:
  //   pixel 0 -> {0, 2, 4} (shifted: 0 has no member before it), offsets 0, 1, 2 -> rpb 2, 3, 4;
  //   pixel 6 -> {2, 4, 6}, offsets -2, -1, 0 -> rpb 0, 1, 2;
  //   pixel 5 -> {1, 3, 5}, offsets -2, -1, 0 -> rpb 0, 1, 2;
  //   pixel 3 -> {1, 3, 5} (interior), offsets -1, 0, 1 -> rpb 1, 2, 3.
  struct Axis {
    int pixel;
    int keys[3];
    int bias[3];
  };
  const Axis axes[] = {
      {0, {0, 2, 4}, {2, 3, 4}},
      {6, {2, 4, 6}, {0, 1, 2}},
      {5, {1, 3, 5}, {0, 1, 2}},
      {3, {1, 3, 5}, {1, 2, 3}},
  };
  for (const Axis& row : axes) {
    for (const Axis& col : axes) {
      double sum = 0, weighted = 0;
      for (int ty = 0; ty < 3; ++ty) {
        for (int tx = 0; tx < 3; ++tx) {
          const double p =
              std::exp(static_cast<double>(rpb.f32()[row.bias[ty] * 5 + col.bias[tx]]));
          sum += p;
          weighted += p * src.f32()[row.keys[ty] * 7 + col.keys[tx]];
        }
      }
      EXPECT_NEAR(dst.f32()[row.pixel * 7 + col.pixel], weighted / sum, 1e-5)
          << "pixel (" << row.pixel << ", " << col.pixel << ") " << isa_name(isa);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, NeighborhoodAttentionBorder,
                         ::testing::Values(NaCoreIsa::Avx512, NaCoreIsa::Portable),
                         [](const auto& p) { return std::string(isa_name(p.param)); });

void expect_invalid(const std::vector<std::string>& words, const std::string& what) {
  try {
    neighborhood_attention_desc_from(
        Params::parse("neighborhood_attention", neighborhood_attention_params(), words));
    FAIL() << "no throw for " << what;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(what), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("neighborhood_attention:"), std::string::npos) << e.what();
  }
}

TEST(NeighborhoodAttention, RefusesBadParams) {
  expect_invalid({"kernel=6"}, "kernel=6 must be odd");
  expect_invalid({"kernel=1"}, "kernel=1 must be >= 3");
  expect_invalid({"heads=5"}, "heads=5 must be >= 1 and divide c=96");
  expect_invalid({"h=5", "w=13"}, "kernel=7 larger than the map h=5, w=13");
  expect_invalid({"h=13", "w=56", "kernel=7", "dilation=2"},
                 "dilation*kernel larger than the map: dilation=2 * kernel=7 = 14");
  expect_invalid({"h=56", "w=40", "dilation=6"}, "dilation*kernel larger than the map");
  // pad=1 runs both.
  EXPECT_NO_THROW(neighborhood_attention_desc_from(
      Params::parse("neighborhood_attention", neighborhood_attention_params(),
                    std::vector<std::string>{"h=5", "w=13", "dilation=2", "pad=1"})));
}

TEST(NeighborhoodAttention, KeyCostAndWeights) {
  const Desc d{.h = 56, .w = 56, .c = 96, .heads = 3, .kernel = 7};
  EXPECT_EQ(to_string(d),
            "neighborhood_attention:n=1,h=56,w=56,c=96,heads=3,kernel=7,dilation=1,qkv_bias=1,"
            "rel_pos=1,pad=0");
  const OpCost c = cost(d);
  const double tokens = 56 * 56;
  EXPECT_DOUBLE_EQ(c.flops, 2 * tokens * 96 * 288 + 4 * tokens * 49 * 96 + 2 * tokens * 96 * 96);
  EXPECT_EQ(c.params, 288 * 96 + 288 + 3 * 13 * 13 + 96 * 96 + 96);
  const std::vector<WeightSpec> specs = weight_specs(d);
  ASSERT_EQ(specs.size(), 5u);
  EXPECT_EQ(specs[2].name, "rpb");
  EXPECT_EQ(specs[2].shape, (Shape{3, 13, 13}));
  EXPECT_EQ(weight_specs(Desc{.qkv_bias = Bias::None, .rel_pos = false}).size(), 3u);
  // pad=1 on a 1x1 map: qkv runs on the 7x7 padded map.
  const Desc small{.h = 1, .w = 1, .c = 96, .pad = true};
  EXPECT_DOUBLE_EQ(cost(small).flops, 2 * 49.0 * 96 * 288 + 4 * 49.0 * 96 + 2 * 96.0 * 96);
}

TEST(NeighborhoodAttention, ForcedVectorPathRefusesLargeKernels) {
  const Desc d{.h = 15, .w = 15, .c = 4, .heads = 1, .kernel = 15};
  // Without avx512f the refusal names the CPU instead of the kernel.
  const char* reason = unsupported_here(Desc{}, NaCoreIsa::Avx512) ? "avx512f" : "kernel=15 > 13";
  std::mt19937_64 rng(1);
  const RandomWeights w = make_random_weights(weight_specs(d), rng);
  try {
    NeighborhoodAttentionPlan::create(testing::test_engine(), d, w.views, NaCoreIsa::Avx512);
    FAIL() << "no throw";
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
  }
  // Best falls back to the portable path.
  EXPECT_NE(NeighborhoodAttentionPlan::create(testing::test_engine(), d, w.views)
                .impl_name()
                .find("portable"),
            std::string::npos);
}

}  // namespace
}  // namespace hwnas
