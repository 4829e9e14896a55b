#include "kernels/ops/softmax.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <vector>

#include <fmt/format.h>

#include "kernels/error.hpp"
#include "kernels/reference/softmax_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::all_close;
using testing::fresh_seed;

// Reductions: 1e-5 * |ref| + 1e-6 per element (STYLE.md §6, testing::reduction_tolerance).
const testing::Tolerance kTolerance = [](double ref, double, std::int64_t) {
  return testing::reduction_tolerance(ref);
};

class SoftmaxTest : public ::testing::TestWithParam<SoftmaxDesc> {};

// Logits in [-8, 8], the range of scaled attention scores: probabilities span e^-16 .. 1, so both
// the relative and the absolute term of the tolerance are exercised.
TEST_P(SoftmaxTest, MatchesFloat64Reference) {
  const SoftmaxDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({d.rows, d.n}, rng, -8.f, 8.f);
  Tensor dst = Tensor::empty({d.rows, d.n});
  testing::poison(dst.view());
  const SoftmaxPlan plan = SoftmaxPlan::create(testing::test_engine(), d);
  plan.run(src.view(), dst.view());
  EXPECT_TRUE(all_close(key, dst.view(), reference::softmax(d, src.view()), kTolerance))
      << plan.impl_name();
}

TEST_P(SoftmaxTest, InPlace) {
  const SoftmaxDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor data = testing::random_tensor({d.rows, d.n}, rng, -8.f, 8.f);
  const auto ref = reference::softmax(d, data.view());
  SoftmaxPlan::create(testing::test_engine(), d).run(data.view(), data.view());
  EXPECT_TRUE(all_close(key, data.view(), ref, kTolerance));
}

INSTANTIATE_TEST_SUITE_P(
    Shapes, SoftmaxTest,
    ::testing::Values(SoftmaxDesc{.rows = 1, .n = 1}, SoftmaxDesc{.rows = 3, .n = 3},
                      SoftmaxDesc{.rows = 13, .n = 19}, SoftmaxDesc{.rows = 7, .n = 23},
                      SoftmaxDesc{.rows = 57, .n = 96}, SoftmaxDesc{.rows = 2, .n = 3136},
                      // Swin-T stage 1: 64 windows x 3 heads x 49 queries, 7x7 keys.
                      SoftmaxDesc{.rows = 9408, .n = 49}),
    [](const auto& p) { return testing::key_to_test_name(to_string(p.param)); });

// Logits near 100 overflow exp() in f32 (max ~88.7) unless the row maximum is subtracted first.
TEST(Softmax, LargeLogitsStayFinite) {
  const SoftmaxDesc d{.rows = 5, .n = 49};
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({d.rows, d.n}, rng, 90.f, 100.f);
  Tensor dst = Tensor::empty({d.rows, d.n});
  testing::poison(dst.view());
  SoftmaxPlan::create(testing::test_engine(), d).run(src.view(), dst.view());
  EXPECT_TRUE(all_close(key, dst.view(), reference::softmax(d, src.view()), kTolerance));
}

// Each backend forced, at the row lengths of attention (49 = 7x7 windows, 196 = 14x14) and odd ones
// around the 16-lane vector (1, 3, 19, 197) and past the 256-float register path (300, 1000), in
// and out of place.
struct ForcedCase {
  SoftmaxDesc desc;
  KernelBackend backend;
};

class SoftmaxForcedTest : public ::testing::TestWithParam<ForcedCase> {};

TEST_P(SoftmaxForcedTest, MatchesFloat64Reference) {
  const auto [d, backend] = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key + std::string(to_string(backend))));
  Tensor src = testing::random_tensor({d.rows, d.n}, rng, -8.f, 8.f);
  Tensor dst = Tensor::empty({d.rows, d.n});
  testing::poison(dst.view());
  const SoftmaxPlan plan = SoftmaxPlan::create(testing::test_engine(), d, {.backend = backend});
  EXPECT_EQ(plan.backend(), backend);
  EXPECT_EQ(plan.impl_name().starts_with("hand:"), backend == KernelBackend::Hand)
      << plan.impl_name();
  plan.run(src.view(), dst.view());
  const auto ref = reference::softmax(d, src.view());
  EXPECT_TRUE(all_close(key, dst.view(), ref, kTolerance)) << plan.impl_name();
  plan.run(src.view(), src.view());
  EXPECT_TRUE(all_close(key + " in place", src.view(), ref, kTolerance)) << plan.impl_name();
}

std::vector<ForcedCase> forced_cases() {
  std::vector<ForcedCase> out;
  for (const KernelBackend backend : {KernelBackend::Hand, KernelBackend::OneDnn}) {
    for (const std::int64_t rows : {1, 3, 57}) {
      for (const std::int64_t n : {1, 3, 16, 19, 49, 96, 196, 197, 256, 300}) {
        out.push_back({.desc = {.rows = rows, .n = n}, .backend = backend});
      }
    }
    out.push_back({.desc = {.rows = 5, .n = 1000}, .backend = backend});
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, SoftmaxForcedTest, ::testing::ValuesIn(forced_cases()),
                         [](const auto& p) {
                           return testing::key_to_test_name(fmt::format(
                               "{}_{}", to_string(p.param.backend), to_string(p.param.desc)));
                         });

// Logits of +-100 (past exp's f32 range either side of the row maximum) through the hand kernel,
// both the register path and the three-pass path.
TEST(Softmax, HandLargeLogitsStayFinite) {
  for (const std::int64_t n : {49, 300}) {
    const SoftmaxDesc d{.rows = 3, .n = n};
    const std::string key = to_string(d);
    std::mt19937_64 rng(fresh_seed(key));
    Tensor src = testing::random_tensor({d.rows, d.n}, rng, -100.f, 100.f);
    Tensor dst = Tensor::empty({d.rows, d.n});
    testing::poison(dst.view());
    SoftmaxPlan::create(testing::test_engine(), d, {.backend = KernelBackend::Hand})
        .run(src.view(), dst.view());
    EXPECT_TRUE(all_close(key, dst.view(), reference::softmax(d, src.view()), kTolerance));
  }
}

TEST(Softmax, AutoIsDeterministic) {
  const SoftmaxDesc d{.rows = 9408, .n = 49};
  EXPECT_EQ(softmax_auto_backend(d), softmax_auto_backend(d));
  EXPECT_EQ(SoftmaxPlan::create(testing::test_engine(), d).backend(), softmax_auto_backend(d));
}

TEST(SoftmaxKey, RoundTrips) {
  const SoftmaxDesc d{.rows = 9408, .n = 49};
  EXPECT_EQ(to_string(d), "softmax:rows=9408,n=49");
  EXPECT_EQ(parse_softmax_desc(to_string(d)), d);
}

TEST(SoftmaxCost, FivePerElement) {
  const OpCost c = cost(SoftmaxDesc{.rows = 10, .n = 7});
  EXPECT_EQ(c.flops, 5.0 * 70);
  EXPECT_EQ(c.bytes, 4.0 * 2 * 70);
  EXPECT_EQ(c.params, 0);
}

TEST(SoftmaxErrors, NameTheBadValue) {
  const Engine eng = testing::test_engine();
  try {
    SoftmaxPlan::create(eng, {.rows = 4, .n = 0});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("softmax: n=0 must be >= 1 [softmax:rows=4,n=0]"),
              std::string::npos)
        << e.what();
  }
  try {
    SoftmaxPlan::create(eng, {.rows = -2, .n = 3});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("rows=-2 must be >= 1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_softmax_desc("softmax:n=0"), InvalidArgument);
  EXPECT_THROW(parse_softmax_desc("softmax:axis=1"), InvalidArgument);
  EXPECT_THROW(parse_softmax_desc("softmin:n=3"), InvalidArgument);
}

}  // namespace
}  // namespace hwnas
