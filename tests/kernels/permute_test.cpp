#include "kernels/ops/permute.hpp"

#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <limits>

#include "kernels/error.hpp"
#include "kernels/reference/permute_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::fresh_seed;

// permute is exact (STYLE.md §6): every element must carry the reference's bits, so -0, subnormals
// and infinities must come through unchanged too.
::testing::AssertionResult bitwise_equal(const std::string& key, const ConstTensorView& got,
                                         const reference::RefOutput& ref) {
  if (got.numel() != static_cast<std::int64_t>(ref.value.size())) {
    return ::testing::AssertionFailure()
           << key << ": got " << got.numel() << " elements, reference has " << ref.value.size();
  }
  int failures = 0;
  ::testing::AssertionResult result = ::testing::AssertionSuccess();
  for (std::int64_t i = 0; i < got.numel() && failures < 10; ++i) {
    const auto g = static_cast<float>(reference::at(got, i));
    const auto r = static_cast<float>(ref.value[static_cast<std::size_t>(i)]);
    if (std::bit_cast<std::uint32_t>(g) != std::bit_cast<std::uint32_t>(r)) {
      if (failures++ == 0) result = ::testing::AssertionFailure() << key << " differs:";
      result << "\n  at flat " << i << ": got " << g << " ref " << r;
    }
  }
  return result;
}

// Random values with the awkward ones mixed in at random places.
void fill_with_specials(TensorView view, std::mt19937_64& rng) {
  testing::fill_uniform(view, rng);
  Tensor values = Tensor::copy_of(view);
  const float specials[] = {-0.f, std::numeric_limits<float>::denorm_min(), -1e-40f,
                            std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::max()};
  std::uniform_int_distribution<std::int64_t> where(0, values.numel() - 1);
  for (const float special : specials) values.f32()[where(rng)] = special;
  copy(values.cview(), view);
}

class PermuteTest : public ::testing::TestWithParam<PermuteDesc> {};

TEST_P(PermuteTest, BitwiseEqualToReference) {
  const PermuteDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = Tensor::empty(d.shape);
  fill_with_specials(src.view(), rng);
  Tensor dst = Tensor::empty(permute_dst_shape(d));
  testing::poison(dst.view());
  const PermutePlan plan = PermutePlan::create(testing::test_engine(), d);
  plan.run(src.view(), dst.view());
  EXPECT_TRUE(bitwise_equal(key, dst.view(), reference::permute(d, src.view())))
      << plan.impl_name();
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, PermuteTest,
    ::testing::Values(PermuteDesc{.shape = {1}, .order = {0}},
                      PermuteDesc{.shape = {13, 23}, .order = {0, 1}},
                      PermuteDesc{.shape = {13, 23}, .order = {1, 0}},
                      PermuteDesc{.shape = {3, 1, 7}, .order = {2, 0, 1}},
                      // [B, N, heads, d] -> [B, heads, N, d], and back.
                      PermuteDesc{.shape = {2, 57, 3, 19}, .order = {0, 2, 1, 3}},
                      PermuteDesc{.shape = {2, 3, 57, 19}, .order = {0, 2, 1, 3}},
                      PermuteDesc{.shape = {1, 49, 3, 32}, .order = {0, 2, 1, 3}},
                      // qkv [B, N, 3, heads, d] -> [3, B, heads, N, d].
                      PermuteDesc{.shape = {2, 13, 3, 3, 23}, .order = {2, 0, 3, 1, 4}},
                      // NCHW -> NHWC, and Swin's window partition [B, H/7, 7, W/7, 7, C] -> [B,
                      // H/7, W/7, 7, 7, C].
                      PermuteDesc{.shape = {1, 96, 13, 13}, .order = {0, 2, 3, 1}},
                      PermuteDesc{.shape = {1, 2, 7, 3, 7, 19}, .order = {0, 1, 3, 2, 4, 5}},
                      PermuteDesc{.shape = {2, 3, 1, 5, 7, 3}, .order = {5, 3, 1, 0, 2, 4}}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// Q out of a qkv tensor [B, N, 3, heads, d]: a strided view, materialised as [B, heads, N, d].
TEST(PermuteStrided, SliceOfQkvToHeadsFirst) {
  const std::int64_t batch = 2, tokens = 13, heads = 3, head_dim = 19;
  std::mt19937_64 rng(fresh_seed("PermuteStrided.SliceOfQkvToHeadsFirst"));
  Tensor qkv = Tensor::empty({batch, tokens, 3, heads, head_dim});
  fill_with_specials(qkv.view(), rng);
  for (int part = 0; part < 3; ++part) {
    const ConstTensorView q = qkv.cview().slice(2, part, part + 1);  // [B, N, 1, heads, d]
    const PermuteDesc d{.shape = q.shape(), .order = {0, 2, 3, 1, 4}};
    const std::string key = to_string(d) + " part " + std::to_string(part);
    Tensor dst = Tensor::empty(permute_dst_shape(d));
    testing::poison(dst.view());
    const PermutePlan plan = PermutePlan::create(testing::test_engine(), d, ViewLayout::of(q));
    plan.run(q, dst.view());
    EXPECT_TRUE(bitwise_equal(key, dst.view(), reference::permute(d, q))) << plan.impl_name();
  }
}

// Heads back into token order, written into a [B, N, heads * d] token tensor.
TEST(PermuteStrided, HeadsBackIntoTokens) {
  const PermuteDesc d{.shape = {2, 3, 7, 23}, .order = {0, 2, 1, 3}};
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = Tensor::empty(d.shape);
  fill_with_specials(src.view(), rng);
  Tensor tokens = Tensor::empty({2, 7, 3 * 23});
  testing::poison(tokens.view());
  PermutePlan::create(testing::test_engine(), d).run(src.view(), tokens.view());
  EXPECT_TRUE(bitwise_equal(key, tokens.view(), reference::permute(d, src.view())));
}

TEST(PermuteKey, RoundTrips) {
  const PermuteDesc d{.shape = {1, 3136, 3, 32}, .order = {0, 2, 1, 3}};
  EXPECT_EQ(to_string(d), "permute:shape=1x3136x3x32,order=0x2x1x3");
  EXPECT_EQ(parse_permute_desc(to_string(d)), d);
  const PermuteDesc e{.shape = {7}, .order = {0}};
  EXPECT_EQ(parse_permute_desc(to_string(e)), e);
  EXPECT_EQ(parse_permute_desc("permute:shape=2x3,order=1x0"),
            (PermuteDesc{.shape = {2, 3}, .order = {1, 0}}));
}

TEST(PermuteCost, ReadsAndWritesEveryElementOnce) {
  const OpCost c = cost(PermuteDesc{.shape = {2, 3, 5}, .order = {2, 1, 0}});
  EXPECT_EQ(c.flops, 0);
  EXPECT_EQ(c.bytes, 2 * 4 * 30);
  EXPECT_EQ(c.params, 0);
}

void expect_invalid(const PermuteDesc& d, const ViewLayout& src, const std::string& needle) {
  try {
    PermutePlan::create(testing::test_engine(), d, src);
    ADD_FAILURE() << "expected InvalidArgument containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(PermuteErrors, NameTheBadValue) {
  expect_invalid({.shape = {2, 3, 4}, .order = {0, 0, 1}}, {},
                 "permute: order=0x0x1 is not a permutation of 0..2 (shape=[2,3,4]) "
                 "[permute:shape=2x3x4,order=0x0x1]");
  expect_invalid({.shape = {2, 3, 4}, .order = {0, 1}}, {},
                 "order=0x1 is not a permutation of 0..2");
  expect_invalid({.shape = {2, 3}, .order = {0, 2}}, {}, "order=0x2 is not a permutation of 0..1");
  expect_invalid({.shape = {2, 0, 4}, .order = {0, 1, 2}}, {},
                 "shape=[2,0,4] has extent 0 < 1 on axis 1");
  expect_invalid({.shape = {}, .order = {}}, {}, "shape must have rank >= 1");
  expect_invalid({.shape = {2, 3}, .order = {1, 0}}, ViewLayout::dense({2, 3}, DType::BF16),
                 "src dtype=bf16 is unsupported");
  expect_invalid({.shape = {2, 3}, .order = {1, 0}}, ViewLayout::dense({3, 2}),
                 "src layout [3,2] strides [2,1] f32 must have shape=[2,3]");
  expect_invalid({.shape = {2, 3}, .order = {1, 0}}, {.shape = {2, 3}, .strides = {-3, 1}},
                 "stride -3 < 0 on axis 0");

  EXPECT_THROW(parse_permute_desc("permute:shape=2x3,order=0x1x2"), InvalidArgument);
  EXPECT_THROW(parse_permute_desc("permute:shape=2x0,order=0x1"), InvalidArgument);
  EXPECT_THROW(parse_permute_desc("permute:shape=2xx3,order=0x1"), InvalidArgument);
  EXPECT_THROW(parse_permute_desc("permute:shape=,order=0"), InvalidArgument);
  EXPECT_THROW(parse_permute_desc("permute:shape=2x3,order=0x6"), InvalidArgument);
  try {
    parse_permute_desc("permute:shape=1x1x1x1x1x1x1,order=0x1x2x3x4x5x0");
    ADD_FAILURE() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("shape=1x1x1x1x1x1x1 has rank 7, at most 6"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace hwnas
