#include "kernels/ops/group_norm.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/reference/group_norm_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::all_close;
using testing::fresh_seed;

// Reductions: 1e-5 * |ref| + 1e-6 per element (STYLE.md §6, testing::reduction_tolerance). The
// statistics are summed in double, so the f32 error is the final (x - mean) * a + beta: a few ulp.
const testing::Tolerance kTolerance = [](double ref, double, std::int64_t) {
  return testing::reduction_tolerance(ref);
};

struct Affine {
  Tensor gamma, beta;
};

Affine random_affine(const GroupNormDesc& d, std::mt19937_64& rng) {
  Affine a;
  if (d.affine != LayerNormAffine::None) a.gamma = testing::random_tensor({d.c}, rng);
  if (d.affine == LayerNormAffine::ScaleShift) a.beta = testing::random_tensor({d.c}, rng);
  return a;
}

Shape shape_of(const GroupNormDesc& d) { return {d.n, d.h, d.w, d.c}; }

struct Case {
  GroupNormDesc desc;
  float offset = 0;  // added to the [-1, 1] input: |mean| well away from 0
};

class GroupNormTest : public ::testing::TestWithParam<Case> {};

TEST_P(GroupNormTest, MatchesFloat64Reference) {
  const auto [d, offset] = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor(shape_of(d), rng, -1.f + offset, 1.f + offset);
  const Affine affine = random_affine(d, rng);
  Tensor dst = Tensor::empty(shape_of(d));
  testing::poison(dst.view());
  const GroupNormPlan plan =
      GroupNormPlan::create(testing::test_engine(), d, affine.gamma.view(), affine.beta.view());
  plan.run(src.view(), dst.view());
  const auto ref = reference::group_norm(d, src.view(), affine.gamma.view(), affine.beta.view());
  EXPECT_TRUE(all_close(key, dst.view(), ref, kTolerance)) << plan.impl_name();
  plan.run(src.view(), src.view());
  EXPECT_TRUE(all_close(key + " in place", src.view(), ref, kTolerance));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, GroupNormTest,
    ::testing::Values(
        Case{{.n = 1, .h = 1, .w = 1, .c = 1}}, Case{{.n = 2, .h = 3, .w = 5, .c = 3}},
        Case{{.n = 3, .h = 7, .w = 5, .c = 19, .affine = LayerNormAffine::Scale}},
        Case{{.n = 2, .h = 9, .w = 11, .c = 23, .eps = 1e-6f, .affine = LayerNormAffine::None}},
        Case{{.n = 2, .h = 5, .w = 3, .c = 24, .groups = 3}},
        Case{{.n = 1, .h = 4, .w = 4, .c = 12, .groups = 12}},
        // More pixels than partial-sum chunks (64), and an uneven split of them.
        Case{{.n = 2, .h = 13, .w = 17, .c = 48}}, Case{{.n = 1, .h = 9, .w = 9, .c = 20}, 2.f}),
    [](const auto& p) {
      return testing::key_to_test_name(
          fmt::format("{}_off{}", to_string(p.param.desc), static_cast<int>(p.param.offset)));
    });

// The partial sums are split by a fixed chunk count, not by thread: 1 and 2 threads agree bitwise.
TEST(GroupNorm, ThreadCountDoesNotChangeTheResult) {
  const GroupNormDesc d{.n = 2, .h = 15, .w = 13, .c = 21, .groups = 3};
  std::mt19937_64 rng(fresh_seed(to_string(d)));
  const Tensor src = testing::random_tensor(shape_of(d), rng);
  const Affine affine = random_affine(d, rng);
  Tensor one = Tensor::empty(shape_of(d)), two = Tensor::empty(shape_of(d));
  GroupNormPlan::create(Engine::cpu({.threads = 1}), d, affine.gamma.view(), affine.beta.view())
      .run(src.view(), one.view());
  GroupNormPlan::create(testing::test_engine(), d, affine.gamma.view(), affine.beta.view())
      .run(src.view(), two.view());
  EXPECT_EQ(std::memcmp(one.f32(), two.f32(), one.nbytes()), 0);
}

TEST(GroupNormKey, RoundTrips) {
  const GroupNormDesc d{
      .n = 2, .h = 7, .w = 5, .c = 64, .groups = 4, .eps = 1e-6f, .affine = LayerNormAffine::Scale};
  EXPECT_EQ(to_string(d), "group_norm:n=2,h=7,w=5,c=64,groups=4,eps=1e-06,affine=scale");
  EXPECT_EQ(parse_group_norm_desc(to_string(d)), d);
  EXPECT_EQ(parse_group_norm_desc("group_norm:n=1").eps, 1e-5f);
}

TEST(GroupNormCost, CountsElementsAndAffine) {
  const OpCost c = cost(GroupNormDesc{.n = 2, .h = 1, .w = 5, .c = 4});
  EXPECT_EQ(c.flops, 8.0 * 40);
  EXPECT_EQ(c.bytes, 4.0 * (2 * 40 + 2 * 4));
  EXPECT_EQ(c.params, 8);
  EXPECT_EQ(cost(GroupNormDesc{.c = 4, .affine = LayerNormAffine::Scale}).params, 4);
}

void expect_invalid(const std::function<void()>& f, const std::string& substring) {
  try {
    f();
    ADD_FAILURE() << "expected InvalidArgument containing '" << substring << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos) << e.what();
  }
}

TEST(GroupNormErrors, NameTheBadValue) {
  const Engine eng = testing::test_engine();
  Tensor g = Tensor::zeros({4}), b = Tensor::zeros({4}), g5 = Tensor::zeros({5});
  Tensor g16 = Tensor::zeros({4}, DType::BF16);
  expect_invalid([&] { GroupNormPlan::create(eng, {.n = 0, .c = 4}, g.view(), b.view()); },
                 "group_norm: n=0 must be >= 1 [group_norm:n=0,");
  expect_invalid([&] { GroupNormPlan::create(eng, {.c = 4, .groups = 3}, g.view(), b.view()); },
                 "group_norm: groups=3 must divide c=4");
  expect_invalid([&] { GroupNormPlan::create(eng, {.c = 4, .eps = 0.f}, g.view(), b.view()); },
                 "eps=0 must be finite and > 0");
  expect_invalid([&] { GroupNormPlan::create(eng, {.c = 4}, g5.view(), b.view()); },
                 "gamma shape [5] must be [c=4]");
  expect_invalid([&] { GroupNormPlan::create(eng, {.c = 4}, g.view(), {}); },
                 "beta shape [] must be [c=4]");
  expect_invalid([&] { GroupNormPlan::create(eng, {.c = 4}, g16.view(), b.view()); },
                 "gamma dtype=bf16 is unsupported");
  expect_invalid(
      [&] {
        GroupNormPlan::create(eng, {.c = 4, .affine = LayerNormAffine::Scale}, g.view(), b.view());
      },
      "beta given but affine=scale takes none");
  expect_invalid([] { parse_group_norm_desc("group_norm:c=6,groups=4"); },
                 "groups=4 must divide c=6");
  expect_invalid([] { parse_group_norm_desc("group_norm:affine=bias"); },
                 "affine=bias is not one of");
}

}  // namespace
}  // namespace hwnas
