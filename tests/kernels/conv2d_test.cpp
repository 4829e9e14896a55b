#include "kernels/ops/conv2d.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <vector>

#include "kernels/cpu/dwconv_nhwc_avx512.hpp"
#include "kernels/error.hpp"
#include "kernels/reference/conv2d_ref.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using testing::all_close;
using testing::fresh_seed;

// The sum-of-products bound (STYLE.md §6) over the reduction length K = (ic/groups)*kh*kw plus the
// bias. A fused activation is applied to a value already within that bound: relu and hardswish have
// |f'| <= 1.5 and GELU / SiLU |f'| <= 1.13 on the reals, and the activation's own evaluation adds
// 4e-5 relative at worst (tanh-GELU / SiLU, benchdnn's eltwise threshold).
testing::Tolerance real_tolerance(const Conv2dDesc& d) {
  const std::int64_t k = (d.ic / d.groups) * d.kh * d.kw;
  if (d.act == Activation::None || d.act == Activation::Relu) {
    return [k](double, double magnitude, std::int64_t) { return testing::sum_tolerance(k, magnitude); };
  }
  return [k](double ref, double magnitude, std::int64_t) {
    return 1.5 * testing::sum_tolerance(k, magnitude) + testing::transcendental_tolerance(ref, 4e-5);
  };
}

struct Case {
  Conv2dDesc desc;
  ConvBackend backend;
};

std::string case_name(const Case& c) {
  return testing::key_to_test_name(fmt::format("{}_{}", to_string(c.backend), to_string(c.desc)));
}

// Dense, grouped and depthwise descs at the shapes SIMD code gets wrong (STYLE.md §6): spatial 1,
// 3, 7, 13, 56, 57; channels 1, 3, 19, 23, 96, 200 (16-lane tails of 3, 7 and 8); k 1..13, odd and
// even, square and band (1x7, 7x1); stride 1, 2; pad 0 and k/2; dilation 1, 2.
std::vector<Conv2dDesc> shapes() {
  const auto dw = [](std::int64_t hw, std::int64_t c, std::int64_t k, std::int64_t stride, std::int64_t pad) {
    return Conv2dDesc{.h = hw, .w = hw, .ic = c, .oc = c, .kh = k, .kw = k, .stride_h = stride,
                      .stride_w = stride, .pad_h = pad, .pad_w = pad, .groups = c};
  };
  std::vector<Conv2dDesc> out = {
      // depthwise: both backends
      dw(1, 1, 1, 1, 0),
      dw(3, 3, 3, 1, 1),
      dw(7, 19, 5, 2, 2),
      dw(13, 23, 7, 1, 3),
      dw(57, 96, 7, 1, 3),
      dw(57, 96, 7, 2, 3),
      dw(57, 19, 3, 2, 1),
      dw(13, 96, 3, 1, 0),
      dw(7, 23, 1, 2, 0),
      dw(13, 19, 4, 1, 2),   // even k, pad k/2: the output is one wider than the input
      dw(13, 23, 6, 2, 3),
      dw(14, 19, 9, 1, 4),
      dw(13, 3, 13, 1, 6),  // k13 on a 13-wide input: every tap column of the fast path
      dw(7, 96, 13, 1, 6),  // kernel wider than the image
      dw(1, 23, 3, 1, 1),   // 1x1 image: all taps but the centre in padding
      dw(3, 19, 15, 1, 7),  // kw > 13: the generic path
      dw(13, 23, 5, 3, 2),  // stride 3: the generic path
  };
  Conv2dDesc d = dw(13, 19, 3, 1, 2);
  d.dilation_h = d.dilation_w = 2;  // dilated: the fast path per phase
  out.push_back(d);
  d = dw(57, 96, 7, 1, 9);
  d.dilation_h = d.dilation_w = 3;  // three phases of 19 columns (DiNAT-like 7x7 d3)
  out.push_back(d);
  d = dw(14, 19, 5, 1, 3);
  d.dilation_w = 4, d.pad_w = 7;  // four phases of unequal widths (4, 4, 3, 3), rows dense
  out.push_back(d);
  d = dw(5, 23, 3, 1, 2);
  d.dilation_w = 6, d.pad_w = 6;  // more phases than output columns
  out.push_back(d);
  d = dw(13, 23, 5, 2, 4);
  d.dilation_h = 2;  // dilated rows only: the fast path still runs
  out.push_back(d);
  d = dw(13, 23, 1, 1, 0);
  d.kw = 7, d.pad_w = 3;  // InceptionNeXt's 1x7 band
  out.push_back(d);
  d = dw(13, 19, 1, 1, 0);
  d.kh = 7, d.pad_h = 3, d.stride_w = 2;  // 7x1 band, horizontal stride only
  out.push_back(d);
  d = Conv2dDesc{.h = 7, .w = 13, .ic = 19, .oc = 19, .kh = 3, .kw = 5, .pad_h = 1, .pad_w = 2, .groups = 19,
                 .bias = Bias::None, .act = Activation::Relu};
  out.push_back(d);
  d = dw(57, 23, 5, 1, 2);
  d.act = Activation::Relu;
  out.push_back(d);
  d = dw(13, 96, 3, 2, 1);
  d.n = 2, d.bias = Bias::None;
  out.push_back(d);
  // The hand kernel's direct path (k 3 and 5, stride 1, pixel stride <= 96 or width <= 7): rows in
  // pairs, tiles of 8 (56 wide, the stride-96 kernels) and 7, borders, a 16-lane tail, a wide
  // stride on a 7x7 image.
  d = dw(56, 96, 3, 1, 1);
  d.n = 2;
  out.push_back(d);
  out.push_back(dw(56, 96, 5, 1, 2));
  d = dw(57, 19, 3, 1, 1);
  d.n = 2, d.act = Activation::Relu;
  out.push_back(d);
  out.push_back(dw(7, 200, 5, 1, 2));
  // depthwise with a transcendental activation, and with a channel multiplier: oneDNN only
  d = dw(13, 23, 7, 1, 3);
  d.act = Activation::GeluErf;
  out.push_back(d);
  out.push_back(Conv2dDesc{.h = 7, .w = 7, .ic = 3, .oc = 6, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1, .groups = 3});
  // dense and grouped: oneDNN only
  out.push_back(Conv2dDesc{.h = 7, .w = 7, .ic = 3, .oc = 19, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                           .pad_h = 1, .pad_w = 1, .act = Activation::Relu});
  out.push_back(Conv2dDesc{.h = 13, .w = 13, .ic = 23, .oc = 19, .kh = 5, .kw = 5, .pad_h = 2, .pad_w = 2,
                           .act = Activation::Silu});
  out.push_back(Conv2dDesc{.h = 57, .w = 57, .ic = 19, .oc = 23, .bias = Bias::None});
  out.push_back(Conv2dDesc{.h = 13, .w = 13, .ic = 3, .oc = 23, .kh = 3, .kw = 3, .pad_h = 2, .pad_w = 2,
                           .dilation_h = 2, .dilation_w = 2, .act = Activation::GeluTanh});
  out.push_back(Conv2dDesc{.n = 2, .h = 7, .w = 7, .ic = 96, .oc = 96, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1,
                           .groups = 2, .act = Activation::Hardswish});
  out.push_back(Conv2dDesc{.h = 13, .w = 3, .ic = 6, .oc = 4, .kh = 4, .kw = 2, .stride_h = 2, .pad_h = 2,
                           .groups = 2});
  return out;
}

// Every desc on oneDNN; the plain depthwise ones with act none/relu also on the hand kernel.
std::vector<Case> cases() {
  std::vector<Case> out;
  for (const Conv2dDesc& d : shapes()) {
    out.push_back({d, ConvBackend::OneDnn});
    if (is_plain_depthwise(d) && (d.act == Activation::None || d.act == Activation::Relu)) {
      out.push_back({d, ConvBackend::Hand});
    }
  }
  return out;
}

class Conv2dTest : public ::testing::TestWithParam<Case> {
 protected:
  Conv2dOptions options() const {
    return {.backend = GetParam().backend, .onednn_algorithm = ConvAlgorithm::Direct};
  }
  // The hand kernel needs AVX-512: where the CPU lacks it, forcing it must say so instead.
  bool hand_refuses() const {
    const std::string why = cpu::DwconvNhwcAvx512::why_not(GetParam().desc);
    if (GetParam().backend != ConvBackend::Hand || why.empty()) return false;
    EXPECT_FALSE(__builtin_cpu_supports("avx512f")) << why;
    Tensor w = Tensor::zeros(conv2d_weights_shape(GetParam().desc)), b = Tensor::zeros({GetParam().desc.oc});
    EXPECT_THROW(Conv2dPlan::create(testing::test_engine(), GetParam().desc, w.view(), b.view(), options()), Unsupported);
    return true;
  }
};

TEST_P(Conv2dTest, MatchesFloat64Reference) {
  if (hand_refuses()) return;
  const Conv2dDesc d = GetParam().desc;
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = testing::random_tensor(conv2d_src_shape(d), rng);
  Tensor weights = testing::random_tensor(conv2d_weights_shape(d), rng);
  Tensor bias = testing::random_tensor({d.oc}, rng);
  Tensor dst = Tensor::empty(conv2d_dst_shape(d));
  testing::poison(dst.view());

  const Conv2dPlan plan = Conv2dPlan::create(testing::test_engine(), d, weights.view(), bias.view(), options());
  EXPECT_EQ(plan.backend(), GetParam().backend);
  plan.run(src.view(), dst.view());
  const auto ref = reference::conv2d(d, src.view(), weights.view(), bias.view());
  EXPECT_TRUE(all_close(key + " " + std::string(plan.impl_name()), dst.view(), ref, real_tolerance(d)));
}

// Integers in [-4, 4]: every partial sum is exact in f32 (16 * K < 2^24), so any indexing error shows.
TEST_P(Conv2dTest, ExactOnIntegers) {
  if (hand_refuses()) return;
  Conv2dDesc d = GetParam().desc;
  if (d.act != Activation::None) d.act = Activation::Relu;  // the exact tier needs an exact activation
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor src = Tensor::empty(conv2d_src_shape(d)), weights = Tensor::empty(conv2d_weights_shape(d)),
         bias = Tensor::empty({d.oc}), dst = Tensor::empty(conv2d_dst_shape(d));
  testing::fill_integers(src.view(), rng);
  testing::fill_integers(weights.view(), rng);
  testing::fill_integers(bias.view(), rng);
  testing::poison(dst.view());
  Conv2dPlan::create(testing::test_engine(), d, weights.view(), bias.view(), options()).run(src.view(), dst.view());
  const auto ref = reference::conv2d(d, src.view(), weights.view(), bias.view());
  EXPECT_TRUE(all_close(key, dst.view(), ref, [](double, double, std::int64_t) { return 0.0; }));
}

INSTANTIATE_TEST_SUITE_P(Shapes, Conv2dTest, ::testing::ValuesIn(cases()),
                         [](const auto& p) { return case_name(p.param); });

// A plan is run many times: the second run, on new data, must not see the first (the hand kernel's
// row buffers are reused; their zero borders must survive).
TEST(Conv2dPlanReuse, SecondRunSeesOnlyItsInput) {
  const Conv2dDesc d{.h = 13, .w = 13, .ic = 23, .oc = 23, .kh = 5, .kw = 5, .pad_h = 2, .pad_w = 2, .groups = 23};
  for (const ConvBackend backend : {ConvBackend::OneDnn, ConvBackend::Hand}) {
    if (backend == ConvBackend::Hand && !cpu::DwconvNhwcAvx512::why_not(d).empty()) continue;
    const std::string key = to_string(d);
    std::mt19937_64 rng(fresh_seed(key));
    Tensor weights = Tensor::empty(conv2d_weights_shape(d)), bias = Tensor::empty({d.oc});
    testing::fill_integers(weights.view(), rng);
    testing::fill_integers(bias.view(), rng);
    const Conv2dPlan plan = Conv2dPlan::create(testing::test_engine(), d, weights.view(), bias.view(),
                                               {.backend = backend, .onednn_algorithm = ConvAlgorithm::Direct});
    Tensor src = Tensor::empty(conv2d_src_shape(d)), dst = Tensor::empty(conv2d_dst_shape(d));
    for (int run = 0; run < 2; ++run) {
      testing::fill_integers(src.view(), rng);
      testing::poison(dst.view());
      plan.run(src.view(), dst.view());
      const auto ref = reference::conv2d(d, src.view(), weights.view(), bias.view());
      EXPECT_TRUE(all_close(fmt::format("{} run {}", plan.impl_name(), run), dst.view(), ref,
                            [](double, double, std::int64_t) { return 0.0; }));
    }
  }
}

// A supernet passes the centre 3x3 of a stored 7x7 kernel as a strided view (OFA's elastic kernel).
TEST(Conv2dWeights, StridedViewOfALargerKernel) {
  const Conv2dDesc d{.h = 13, .w = 13, .ic = 19, .oc = 19, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1, .groups = 19};
  const std::string key = to_string(d);
  std::mt19937_64 rng(fresh_seed(key));
  Tensor big = Tensor::empty({19, 1, 7, 7}), bias = Tensor::empty({19}), src = Tensor::empty(conv2d_src_shape(d));
  testing::fill_integers(big.view(), rng);
  testing::fill_integers(bias.view(), rng);
  testing::fill_integers(src.view(), rng);
  const ConstTensorView centre = big.cview().slice(2, 2, 5).slice(3, 2, 5);
  const auto ref = reference::conv2d(d, src.view(), centre, bias.view());
  for (const ConvBackend backend : {ConvBackend::OneDnn, ConvBackend::Hand}) {
    if (backend == ConvBackend::Hand && !cpu::DwconvNhwcAvx512::why_not(d).empty()) continue;
    Tensor dst = Tensor::empty(conv2d_dst_shape(d));
    testing::poison(dst.view());
    Conv2dPlan::create(testing::test_engine(), d, centre, bias.view(), {.backend = backend}).run(src.view(), dst.view());
    EXPECT_TRUE(all_close(key + " " + std::string(to_string(backend)), dst.view(), ref,
                          [](double, double, std::int64_t) { return 0.0; }));
  }
}

TEST(Conv2dBackend, AutoFollowsTheRuleAndNamesTheImpl) {
  Tensor w = Tensor::zeros({96, 1, 7, 7}), b = Tensor::zeros({96});
  const Conv2dDesc convnext{.h = 56, .w = 56, .ic = 96, .oc = 96, .kh = 7, .kw = 7, .pad_h = 3, .pad_w = 3, .groups = 96};
  const Conv2dPlan plan = Conv2dPlan::create(testing::test_engine(), convnext, w.view(), b.view());
  EXPECT_EQ(plan.backend(), conv2d_auto_backend(convnext));
  if (__builtin_cpu_supports("avx512f")) {
    EXPECT_EQ(plan.backend(), ConvBackend::Hand);
    EXPECT_EQ(plan.impl_name(), "hand:dwconv_nhwc_avx512");
  } else {
    EXPECT_EQ(plan.backend(), ConvBackend::OneDnn);
  }
  const Conv2dPlan dnn = Conv2dPlan::create(testing::test_engine(), convnext, w.view(), b.view(), {.backend = ConvBackend::OneDnn});
  EXPECT_EQ(dnn.impl_name().substr(0, 7), "onednn:") << dnn.impl_name();

  // The measured rule (conv2d.cpp, hand_is_faster), where the hand kernel can run at all.
  if (__builtin_cpu_supports("avx512f")) {
    const auto dw = [](std::int64_t hw, std::int64_t c, std::int64_t kh, std::int64_t kw, std::int64_t stride) {
      return Conv2dDesc{.h = hw, .w = hw, .ic = c, .oc = c, .kh = kh, .kw = kw, .stride_h = stride,
                        .stride_w = stride, .pad_h = kh / 2, .pad_w = kw / 2, .groups = c};
    };
    EXPECT_EQ(conv2d_auto_backend(dw(14, 384, 3, 3, 1)), ConvBackend::Hand);
    EXPECT_EQ(conv2d_auto_backend(dw(28, 192, 13, 13, 2)), ConvBackend::Hand);
    EXPECT_EQ(conv2d_auto_backend(dw(56, 96, 3, 3, 2)), ConvBackend::OneDnn);   // 0.75x
    EXPECT_EQ(conv2d_auto_backend(dw(7, 768, 7, 7, 2)), ConvBackend::OneDnn);   // 4x4 output: 0.94x
    EXPECT_EQ(conv2d_auto_backend(dw(56, 12, 1, 11, 1)), ConvBackend::Hand);    // 1.88x
    EXPECT_EQ(conv2d_auto_backend(dw(56, 96, 1, 11, 1)), ConvBackend::OneDnn);  // 0.93x
    EXPECT_EQ(conv2d_auto_backend(dw(56, 12, 11, 1, 1)), ConvBackend::OneDnn);  // 0.90x
    EXPECT_EQ(conv2d_auto_backend(dw(28, 24, 11, 1, 1)), ConvBackend::Hand);    // 1.08x
    Conv2dDesc dilated = dw(56, 96, 3, 3, 1);
    dilated.dilation_h = dilated.dilation_w = 2, dilated.pad_h = dilated.pad_w = 2;
    EXPECT_EQ(conv2d_auto_backend(dilated), ConvBackend::OneDnn);  // 3x3 d3: 1.72x, 5x5 d2: 1.23x
    Conv2dDesc dilated7 = dw(56, 96, 7, 7, 1);
    dilated7.dilation_h = dilated7.dilation_w = 3, dilated7.pad_h = dilated7.pad_w = 9;
    EXPECT_EQ(conv2d_auto_backend(dilated7), ConvBackend::Hand);  // per phase: 0.09x
    dilated7.stride_h = dilated7.stride_w = 2;
    EXPECT_EQ(conv2d_auto_backend(dilated7), ConvBackend::OneDnn);  // strided and dilated
    Conv2dDesc gelu = dw(56, 96, 7, 7, 1);
    gelu.act = Activation::GeluErf;  // the hand kernel fuses none/relu only
    EXPECT_EQ(conv2d_auto_backend(gelu), ConvBackend::OneDnn);
  }

  // A dense conv never goes to the hand kernel.
  Tensor wd = Tensor::zeros({8, 3, 3, 3}), bd = Tensor::zeros({8});
  const Conv2dDesc dense{.h = 7, .w = 7, .ic = 3, .oc = 8, .kh = 3, .kw = 3};
  EXPECT_EQ(conv2d_auto_backend(dense), ConvBackend::OneDnn);
  EXPECT_EQ(Conv2dPlan::create(testing::test_engine(), dense, wd.view(), bd.view()).backend(), ConvBackend::OneDnn);
}

TEST(Conv2dBackend, ForcedHandListsWhyItCannotRun) {
  const Engine eng = testing::test_engine();
  const auto expect_unsupported = [&](const Conv2dDesc& d, const std::string& reason) {
    Tensor w = Tensor::zeros(conv2d_weights_shape(d)), b = Tensor::zeros({d.oc});
    try {
      Conv2dPlan::create(eng, d, w.view(), b.view(), {.backend = ConvBackend::Hand});
      FAIL() << "expected Unsupported for " << to_string(d);
    } catch (const Unsupported& e) {
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find(to_string(d)), std::string::npos) << e.what();
    }
  };
  expect_unsupported({.h = 7, .w = 7, .ic = 3, .oc = 8, .kh = 3, .kw = 3},
                     "hand:dwconv_nhwc_avx512: groups=1 must equal ic=3 and oc=8");
  expect_unsupported({.h = 7, .w = 7, .ic = 3, .oc = 6, .kh = 3, .kw = 3, .groups = 3}, "groups=3 must equal ic=3 and oc=6");
  expect_unsupported({.h = 7, .w = 7, .ic = 8, .oc = 8, .kh = 3, .kw = 3, .groups = 8, .act = Activation::GeluErf},
                     "act=gelu_erf is not fused");
}

TEST(Conv2dKey, RoundTrips) {
  const Conv2dDesc d{.n = 2, .h = 56, .w = 28, .ic = 96, .oc = 192, .kh = 3, .kw = 5, .stride_h = 2, .stride_w = 1,
                     .pad_h = 1, .pad_w = 2, .dilation_h = 1, .dilation_w = 2, .groups = 3, .bias = Bias::None,
                     .act = Activation::GeluErf};
  EXPECT_EQ(to_string(d),
            "conv2d:n=2,h=56,w=28,ic=96,oc=192,kh=3,kw=5,stride_h=2,stride_w=1,pad_h=1,pad_w=2,"
            "dilation_h=1,dilation_w=2,groups=3,bias=0,act=gelu_erf");
  EXPECT_EQ(parse_conv2d_desc(to_string(d)), d);
  EXPECT_EQ(parse_conv2d_desc("conv2d:kh=3"), (Conv2dDesc{.h = 56, .w = 56, .ic = 96, .oc = 96, .kh = 3, .kw = 7,
                                                          .pad_h = 3, .pad_w = 3, .groups = 96}));
  EXPECT_THROW(parse_conv2d_desc("conv2d:stride_h=0"), InvalidArgument);
  EXPECT_THROW(parse_conv2d_desc("conv2d:kernel=3"), InvalidArgument);
  EXPECT_THROW(parse_conv2d_desc("conv2d:act=star_relu"), InvalidArgument);
}

TEST(Conv2dCost, CountsMultiplyAddsAndMinimumTraffic) {
  const Conv2dDesc d{.h = 56, .w = 56, .ic = 96, .oc = 96, .kh = 7, .kw = 7, .pad_h = 3, .pad_w = 3, .groups = 96};
  const OpCost c = cost(d);
  EXPECT_DOUBLE_EQ(c.flops, 2.0 * 56 * 56 * 96 * 49);
  EXPECT_DOUBLE_EQ(c.bytes, 4.0 * (56 * 56 * 96 + 96 * 49 + 96 + 56 * 56 * 96));
  EXPECT_EQ(c.params, 96 * 49 + 96);
  const Conv2dDesc dense{.h = 7, .w = 7, .ic = 4, .oc = 6, .kh = 3, .kw = 3, .stride_h = 2, .stride_w = 2,
                         .groups = 2, .bias = Bias::None};
  EXPECT_DOUBLE_EQ(cost(dense).flops, 2.0 * 3 * 3 * 6 * 2 * 9);
  EXPECT_EQ(cost(dense).params, 6 * 2 * 9);
}

void expect_invalid(const Conv2dDesc& d, ConstTensorView w, ConstTensorView b, const std::string& message) {
  try {
    Conv2dPlan::create(testing::test_engine(), d, w, b);
    FAIL() << "expected InvalidArgument: " << message;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(message), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[conv2d:"), std::string::npos) << e.what();
  }
}

TEST(Conv2dErrors, NameTheBadValue) {
  Tensor w = Tensor::zeros({32, 1, 3, 3}), b = Tensor::zeros({32});
  const Conv2dDesc ok{.h = 8, .w = 8, .ic = 32, .oc = 32, .kh = 3, .kw = 3, .pad_h = 1, .pad_w = 1, .groups = 32};
  Conv2dDesc d = ok;
  d.groups = 3;
  expect_invalid(d, w.view(), b.view(), "conv2d: groups=3 must divide ic=32");
  d = ok;
  d.groups = 16, d.oc = 40;
  expect_invalid(d, w.view(), b.view(), "groups=16 must divide oc=40");
  d = ok;
  d.h = 0;
  expect_invalid(d, w.view(), b.view(), "h=0 must be >= 1");
  d = ok;
  d.ic = 0;
  expect_invalid(d, w.view(), b.view(), "ic=0 must be >= 1");
  d = ok;
  d.n = -1;
  expect_invalid(d, w.view(), b.view(), "n=-1 must be >= 1");
  d = ok;
  d.stride_w = 0;
  expect_invalid(d, w.view(), b.view(), "stride_w=0 must be >= 1");
  d = ok;
  d.pad_h = -1;
  expect_invalid(d, w.view(), b.view(), "pad_h=-1 must be >= 0");
  d = ok;
  d.dilation_w = 0;
  expect_invalid(d, w.view(), b.view(), "dilation_w=0 must be >= 1");
  d = ok;
  d.h = 3, d.kh = 9, d.pad_h = 1;
  expect_invalid(d, w.view(), b.view(), "kernel larger than padded input: kh=9 with dilation_h=1 spans 9 > h=3 + 2*pad_h=1 = 5");
  d = ok;
  d.w = 4, d.pad_w = 0, d.dilation_w = 2;
  expect_invalid(d, w.view(), b.view(), "kernel larger than padded input: kw=3 with dilation_w=2 spans 5 > w=4");
  d = ok;
  d.act = Activation::StarRelu;
  expect_invalid(d, w.view(), b.view(), "act=star_relu cannot be fused");

  Tensor w16 = Tensor::zeros({32, 1, 3, 3}, DType::BF16);
  expect_invalid(ok, w16.view(), b.view(), "weights dtype=bf16 is unsupported, expected f32");
  Tensor b16 = Tensor::zeros({32}, DType::BF16);
  expect_invalid(ok, w.view(), b16.view(), "bias dtype=bf16 is unsupported, expected f32");
  Tensor w_dense = Tensor::zeros({32, 32, 3, 3});
  expect_invalid(ok, w_dense.view(), b.view(), "weights shape [32,32,3,3] must be [oc=32, ic/groups=1, kh=3, kw=3]");
  expect_invalid(ok, w.view(), ConstTensorView{}, "bias shape [] must be [oc=32]");
}

}  // namespace
}  // namespace hwnas
