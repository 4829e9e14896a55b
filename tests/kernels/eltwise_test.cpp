#include "kernels/ops/eltwise.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <iterator>
#include <limits>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/reference/eltwise_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::all_close;
using testing::fresh_seed;

// Per activation (STYLE.md §6):
//   none, relu: bitwise, a copy or a max against 0 rounds nothing;
//   gelu_erf, hardswish: transcendental, 4e-6 relative (absolute below 1, testing::
//     transcendental_tolerance);
//   gelu_tanh, silu, sigmoid: transcendental, 4e-5;
//   star_relu: scale * (r * r) + bias is two products and a sum, so Higham's bound for a length-2
//     sum, 2 * gamma(3) * (|scale| r^2 + |bias|).
testing::Tolerance tolerance(Activation act) {
  switch (act) {
    case Activation::None:
    case Activation::Relu:
      return [](double, double, std::int64_t) { return 0.0; };
    case Activation::GeluErf:
    case Activation::Hardswish:
      return [](double ref, double, std::int64_t) {
        return testing::transcendental_tolerance(ref, 4e-6);
      };
    case Activation::GeluTanh:
    case Activation::Silu:
    case Activation::Sigmoid:
      return [](double ref, double, std::int64_t) {
        return testing::transcendental_tolerance(ref, 4e-5);
      };
    case Activation::StarRelu:
      return [](double, double magnitude, std::int64_t) {
        return testing::sum_tolerance(2, magnitude);
      };
  }
  return {};
}

class EltwiseTest : public ::testing::TestWithParam<EltwiseDesc> {};

// Inputs in [-6, 6]: past hardswish's kinks at -3 and 3 and into GELU's and SiLU's tails.
TEST_P(EltwiseTest, MatchesFloat64Reference) {
  const EltwiseDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({d.numel}, rng, -6.f, 6.f);
  Tensor dst = Tensor::empty({d.numel});
  testing::poison(dst.view());
  const EltwisePlan plan = EltwisePlan::create(testing::test_engine(), d);
  plan.run(src.view(), dst.view());
  EXPECT_TRUE(all_close(key, dst.view(), reference::eltwise(d, src.view()), tolerance(d.act)))
      << plan.impl_name();
}

TEST_P(EltwiseTest, InPlace) {
  const EltwiseDesc d = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor data = testing::random_tensor({d.numel}, rng, -6.f, 6.f);
  const auto ref = reference::eltwise(d, data.view());
  EltwisePlan::create(testing::test_engine(), d).run(data.view(), data.view());
  EXPECT_TRUE(all_close(key, data.view(), ref, tolerance(d.act)));
}

// Every activation at sizes with SIMD tails (1, 3, 19, 23), whole vectors only (96) and a 57x57
// plane; for the hand-written StarReLU loop also several 2^14-element OpenMP chunks and a ragged last
// one.
std::vector<EltwiseDesc> cases() {
  std::vector<EltwiseDesc> out;
  for (std::string_view name : kActivationNames) {
    const Activation act = parse_activation(name);
    for (std::int64_t numel : {1, 3, 19, 23, 96, 57 * 57}) {
      out.push_back({.numel = numel, .act = act});
    }
  }
  out.push_back({.numel = 3 * (1 << 14) + 5, .act = Activation::StarRelu});
  out.push_back({.numel = 13 * 13 * 96, .act = Activation::GeluErf});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Shapes, EltwiseTest, ::testing::ValuesIn(cases()), [](const auto& p) {
  return testing::key_to_test_name(to_string(p.param));
});

TEST(Eltwise, StarReluUsesTheGivenCoefficients) {
  const EltwiseDesc d{.numel = 1000, .act = Activation::StarRelu};
  const StarReluCoeffs star{.scale = 1.5f, .bias = 0.25f};
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor({d.numel}, rng, -6.f, 6.f);
  Tensor dst = Tensor::empty({d.numel});
  testing::poison(dst.view());
  const EltwisePlan plan = EltwisePlan::create(testing::test_engine(), d, star);
  EXPECT_EQ(plan.impl_name(), "hand:star_relu");
  plan.run(src.view(), dst.view());
  EXPECT_TRUE(all_close(key, dst.view(), reference::eltwise(d, src.view(), star),
                        tolerance(Activation::StarRelu)));
}

// oneDNN 3.x computes hardswish as x * clamp(alpha * x + beta, 0, 1) and 2.6 ignores alpha and
// beta; x * relu6(x + 3) / 6 must come out on both, including at the kinks and just inside them.
TEST(Eltwise, HardswishIsPyTorchsOnEveryOneDnnVersion) {
  const float points[] = {-1e9f,  -6.f, -3.0001f, -3.f, -2.9999f, -1.5f, -0.f, 0.f,
                          1e-30f, 1.f,  2.9999f,  3.f,  3.0001f,  6.f,   1e9f, -1.f};
  const EltwiseDesc d{.numel = std::ssize(points), .act = Activation::Hardswish};
  Tensor src = Tensor::empty({d.numel}), dst = Tensor::empty({d.numel});
  std::copy(std::begin(points), std::end(points), src.f32());
  testing::poison(dst.view());
  EltwisePlan::create(testing::test_engine(), d).run(src.view(), dst.view());
  EXPECT_TRUE(all_close(to_string(d), dst.view(), reference::eltwise(d, src.view()),
                        tolerance(Activation::Hardswish)));
}

TEST(Eltwise, ImplNames) {
  for (std::string_view name : kActivationNames) {
    const Activation act = parse_activation(name);
    const EltwisePlan plan = EltwisePlan::create(testing::test_engine(), {.numel = 96, .act = act});
    const std::string_view expected_prefix = act == Activation::StarRelu ? "hand:" : "onednn:";
    EXPECT_EQ(plan.impl_name().substr(0, expected_prefix.size()), expected_prefix)
        << plan.impl_name();
  }
}

// Each backend forced for the activations both implement, at odd sizes around the 16-lane vector, a
// 57x57 plane and several per-thread blocks with a ragged end; in and out of place.
struct ForcedCase {
  EltwiseDesc desc;
  KernelBackend backend;
};

class EltwiseForcedTest : public ::testing::TestWithParam<ForcedCase> {};

TEST_P(EltwiseForcedTest, MatchesFloat64Reference) {
  const auto [d, backend] = GetParam();
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key + std::string(to_string(backend))));
  Tensor src = testing::random_tensor({d.numel}, rng, -6.f, 6.f);
  Tensor dst = Tensor::empty({d.numel});
  testing::poison(dst.view());
  const EltwisePlan plan = EltwisePlan::create(testing::test_engine(), d, {}, {.backend = backend});
  EXPECT_EQ(plan.backend(), backend);
  EXPECT_EQ(plan.impl_name().starts_with("hand:"), backend == KernelBackend::Hand)
      << plan.impl_name();
  plan.run(src.view(), dst.view());
  const auto ref = reference::eltwise(d, src.view());
  EXPECT_TRUE(all_close(key, dst.view(), ref, tolerance(d.act))) << plan.impl_name();
  plan.run(src.view(), src.view());
  EXPECT_TRUE(all_close(key + " in place", src.view(), ref, tolerance(d.act))) << plan.impl_name();
}

std::vector<ForcedCase> forced_cases() {
  std::vector<ForcedCase> out;
  for (const KernelBackend backend : {KernelBackend::Hand, KernelBackend::OneDnn}) {
    for (const Activation act : {Activation::GeluErf, Activation::GeluTanh, Activation::Silu}) {
      for (const std::int64_t numel : {1, 3, 19, 49, 96, 197, 57 * 57, 3 * (1 << 14) + 5}) {
        out.push_back({.desc = {.numel = numel, .act = act}, .backend = backend});
      }
    }
  }
  return out;
}

INSTANTIATE_TEST_SUITE_P(Backends, EltwiseForcedTest, ::testing::ValuesIn(forced_cases()),
                         [](const auto& p) {
                           return testing::key_to_test_name(
                               std::string(to_string(p.param.backend)) + "_" +
                               to_string(p.param.desc));
                         });

// The hand kernels' edges: exp's clamp (|x| past 88), erfc's far tail, signed zero, tiny and huge
// inputs, and the neighbourhood of 0 where GELU switches between its two branches.
TEST(Eltwise, HandEdgeValues) {
  const float points[] = {-1e9f, -200.f, -90.f, -88.f, -20.f, -9.f,  -6.f, -1e-3f, -1e-30f, -0.f,
                          0.f,   1e-30f, 1e-3f, 0.5f,  1.f,   6.f,   9.f,  20.f,   88.f,    90.f,
                          200.f, 1e9f,   -3.f,  3.f};
  for (const Activation act : {Activation::GeluErf, Activation::GeluTanh, Activation::Silu}) {
    const EltwiseDesc d{.numel = std::ssize(points), .act = act};
    Tensor src = Tensor::empty({d.numel}), dst = Tensor::empty({d.numel});
    std::copy(std::begin(points), std::end(points), src.f32());
    testing::poison(dst.view());
    EltwisePlan::create(testing::test_engine(), d, {}, {.backend = KernelBackend::Hand})
        .run(src.view(), dst.view());
    EXPECT_TRUE(all_close(to_string(d), dst.view(), reference::eltwise(d, src.view()),
                          tolerance(act)));
  }
}

TEST(EltwiseErrors, ForcedBackendThatCannotRunSaysWhy) {
  const Engine eng = testing::test_engine();
  try {
    EltwisePlan::create(eng, {.numel = 4, .act = Activation::Relu}, {},
                        {.backend = KernelBackend::Hand});
    FAIL() << "expected Unsupported";
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find(
                  "eltwise: backend=hand cannot run eltwise:numel=4,act=relu: hand: act=relu has no "
                  "hand-written kernel"),
              std::string::npos)
        << e.what();
  }
  try {
    EltwisePlan::create(eng, {.numel = 4, .act = Activation::StarRelu}, {},
                        {.backend = KernelBackend::OneDnn});
    FAIL() << "expected Unsupported";
  } catch (const Unsupported& e) {
    EXPECT_NE(std::string(e.what()).find("onednn: act=star_relu is not a oneDNN algorithm"),
              std::string::npos)
        << e.what();
  }
}

TEST(EltwiseKey, RoundTrips) {
  const EltwiseDesc d{.numel = 1204224, .act = Activation::GeluTanh};
  EXPECT_EQ(to_string(d), "eltwise:numel=1204224,act=gelu_tanh");
  EXPECT_EQ(parse_eltwise_desc(to_string(d)), d);
  for (std::string_view name : kActivationNames) {
    const EltwiseDesc e{.numel = 7, .act = parse_activation(name)};
    EXPECT_EQ(parse_eltwise_desc(to_string(e)), e);
  }
}

TEST(EltwiseCost, CountsFromTheFormula) {
  EXPECT_EQ(cost(EltwiseDesc{.numel = 10, .act = Activation::GeluTanh}).flops, 90.0);
  EXPECT_EQ(cost(EltwiseDesc{.numel = 10, .act = Activation::Relu}).bytes, 80.0);
  EXPECT_EQ(cost(EltwiseDesc{.numel = 10, .act = Activation::StarRelu}).params, 2);
  EXPECT_EQ(cost(EltwiseDesc{.numel = 10, .act = Activation::Silu}).params, 0);
}

TEST(EltwiseErrors, NameTheBadValue) {
  const Engine eng = testing::test_engine();
  try {
    EltwisePlan::create(eng, {.numel = 0, .act = Activation::Relu});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(
        std::string(e.what()).find("eltwise: numel=0 must be >= 1 [eltwise:numel=0,act=relu]"),
        std::string::npos)
        << e.what();
  }
  try {
    EltwisePlan::create(eng, {.numel = 4, .act = Activation::StarRelu},
                        {.scale = std::numeric_limits<float>::quiet_NaN()});
    FAIL() << "expected InvalidArgument";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find("star_relu scale=nan"), std::string::npos) << e.what();
  }
  EXPECT_THROW(parse_eltwise_desc("eltwise:numel=-1"), InvalidArgument);
  EXPECT_THROW(parse_eltwise_desc("eltwise:act=gelu"), InvalidArgument);
}

}  // namespace
}  // namespace hwnas
