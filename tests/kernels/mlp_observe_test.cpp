// MlpPlan::run_observed: the observed hidden units give the sign code of each rectified unit's
// pre-activation (fc1 for mlp, the dwconv for conv_ffn, the gate half for glu_mlp), for every
// activation including StarReLU (whose output does not keep the sign), and the output is run's.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/layers/mlp.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

// The pre-activation of each hidden unit in float64, with the magnitude sum |w x| + |b| of its
// dot products (for the near-zero band where f32 may round to either sign).
struct PreActivation {
  std::vector<double> value, magnitude;
};

PreActivation reference_pre_activation(const MlpDesc& d, const Tensor& src, const MixerWeights& w) {
  const std::string key = to_string(d);
  const std::int64_t t = d.n * d.h * d.w, hid = mlp_hidden(d);
  const float* w1 = w.get("fc1.weight", key).f32();
  const float* b1 = w.get("fc1.bias", key).f32();
  // glu_mlp: the gate is fc1's second half.
  const std::int64_t row0 = d.kind == MlpKind::GluMlp ? hid : 0;
  PreActivation fc1{std::vector<double>(static_cast<std::size_t>(t * hid)),
                    std::vector<double>(static_cast<std::size_t>(t * hid))};
  for (std::int64_t i = 0; i < t; ++i) {
    for (std::int64_t h = 0; h < hid; ++h) {
      double v = b1[row0 + h], m = std::abs(v);
      for (std::int64_t c = 0; c < d.c; ++c) {
        const double p = static_cast<double>(w1[(row0 + h) * d.c + c]) * src.f32()[i * d.c + c];
        v += p;
        m += std::abs(p);
      }
      fc1.value[static_cast<std::size_t>(i * hid + h)] = v;
      fc1.magnitude[static_cast<std::size_t>(i * hid + h)] = m;
    }
  }
  if (d.kind != MlpKind::ConvFfn) return fc1;
  const float* wd = w.get("dwconv.dwconv.weight", key).f32();
  const float* bd = w.get("dwconv.dwconv.bias", key).f32();
  PreActivation out = fc1;
  for (std::int64_t n = 0; n < d.n; ++n) {
    for (std::int64_t y = 0; y < d.h; ++y) {
      for (std::int64_t x = 0; x < d.w; ++x) {
        for (std::int64_t h = 0; h < hid; ++h) {
          double v = bd[h], m = std::abs(v);
          for (std::int64_t ky = 0; ky < 3; ++ky) {
            for (std::int64_t kx = 0; kx < 3; ++kx) {
              const std::int64_t yy = y + ky - 1, xx = x + kx - 1;
              if (yy < 0 || yy >= d.h || xx < 0 || xx >= d.w) continue;
              const auto at = static_cast<std::size_t>(((n * d.h + yy) * d.w + xx) * hid + h);
              const double wk = wd[h * 9 + ky * 3 + kx];
              v += wk * fc1.value[at];
              m += std::abs(wk) * fc1.magnitude[at];
            }
          }
          const auto o = static_cast<std::size_t>(((n * d.h + y) * d.w + x) * hid + h);
          out.value[o] = v;
          out.magnitude[o] = m;
        }
      }
    }
  }
  return out;
}

TEST(MlpObserve, CodesAreThePreActivationSignsAndOutputIsRuns) {
  for (const MlpKind kind : {MlpKind::Mlp, MlpKind::ConvFfn, MlpKind::GluMlp}) {
    for (const Activation act :
         {Activation::GeluErf, Activation::Relu, Activation::Hardswish, Activation::StarRelu}) {
      const MlpDesc d{.kind = kind,
                      .n = 2,
                      .h = 5,
                      .w = 3,
                      .c = 19,
                      .ratio = 2,
                      .act = act,
                      .residual = Residual::ScaledAdd};
      const std::string key = to_string(d);
      std::mt19937_64 rng(testing::fresh_seed(key));
      const Tensor src = testing::random_tensor(src_shape(d), rng);
      const Tensor residual = testing::random_tensor(src_shape(d), rng);
      RandomWeights w = make_random_weights(weight_specs(d), rng);
      const MlpPlan plan = MlpPlan::create(testing::test_engine(), d, w.views);
      Tensor plain = Tensor::empty(dst_shape(d)), observed = Tensor::empty(dst_shape(d));
      plan.run(src.cview(), residual.cview(), plain.view());
      int calls = 0;
      std::vector<float> hidden;
      plan.run_observed(src.cview(), residual.cview(), observed.view(), [&](ConstTensorView h) {
        ++calls;
        EXPECT_EQ(h.shape(), (Shape{d.n, d.h, d.w, mlp_hidden(d)})) << key;
        hidden.assign(h.f32(), h.f32() + h.numel());
      });
      ASSERT_EQ(calls, 1) << key;
      EXPECT_EQ(0, std::memcmp(plain.f32(), observed.f32(), plain.nbytes())) << key;
      const PreActivation ref = reference_pre_activation(d, src, w.views);
      ASSERT_EQ(ref.value.size(), hidden.size()) << key;
      int checked = 0, failures = 0;
      for (std::size_t i = 0; i < hidden.size() && failures < 10; ++i) {
        // f32 rounding may flip a unit within its dot-product error of 0 (sum_tolerance).
        const double band = testing::sum_tolerance(2 * d.c + 9, ref.magnitude[i]) * 10;
        if (std::abs(ref.value[i]) <= band) continue;
        ++checked;
        if ((hidden[i] > 0) != (ref.value[i] > 0)) {
          ++failures;
          ADD_FAILURE() << key << " unit " << i << ": observed " << hidden[i] << ", pre-activation "
                        << ref.value[i];
        }
      }
      EXPECT_GT(checked, static_cast<int>(hidden.size()) * 9 / 10) << key;
    }
  }
}

TEST(MlpObserve, EmptyResidualIsSrcAsInRun) {
  const MlpDesc d{.h = 3, .w = 3, .c = 8, .residual = Residual::Add};
  std::mt19937_64 rng(testing::fresh_seed(to_string(d)));
  const Tensor src = testing::random_tensor(src_shape(d), rng);
  RandomWeights w = make_random_weights(weight_specs(d), rng);
  const MlpPlan plan = MlpPlan::create(testing::test_engine(), d, w.views);
  Tensor a = Tensor::empty(dst_shape(d)), b = Tensor::empty(dst_shape(d));
  plan.run(src.cview(), a.view());
  plan.run_observed(src.cview(), ConstTensorView{}, b.view(), [](ConstTensorView) {});
  EXPECT_EQ(0, std::memcmp(a.f32(), b.f32(), a.nbytes()));
}

}  // namespace
}  // namespace hwnas
