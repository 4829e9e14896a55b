// attention_tile: both implementations (portable and AVX-512) against a float64 reference, at odd
// sizes, with strided operands whose gaps hold NaN (a read past a row poisons the output), with and
// without bias, with Swin's -100 mask entries.
#include "kernels/cpu/attention_tile.hpp"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "kernels/cpu/attention_tile_impl.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

using cpu::AttentionTile;

enum class Impl { Generic, Avx512, Dispatch };

struct Case {
  std::int64_t m, n, dk, dv;
  bool bias = false;
  bool mask = false;  // some bias entries -100, as Swin's shifted-window mask
};

std::string case_name(const Case& c) {
  return fmt::format("m{}_n{}_dk{}_dv{}{}{}", c.m, c.n, c.dk, c.dv, c.bias ? "_bias" : "",
                     c.mask ? "_mask" : "");
}

void PrintTo(const Case& c, std::ostream* os) { *os << case_name(c); }
void PrintTo(Impl impl, std::ostream* os) { *os << static_cast<int>(impl); }

// A row-major [rows, cols] matrix in a buffer whose rows are `stride` >= cols floats apart; the
// floats between rows are NaN, so any read outside the rows shows up in the result.
struct Strided {
  std::int64_t rows, cols, stride;
  std::vector<float> data;
  Strided(std::int64_t r, std::int64_t c, std::int64_t s)
      : rows(r),
        cols(c),
        stride(s),
        data(static_cast<std::size_t>(r * s), std::numeric_limits<float>::quiet_NaN()) {}
  float& at(std::int64_t i, std::int64_t j) {
    return data[static_cast<std::size_t>(i * stride + j)];
  }
  float at(std::int64_t i, std::int64_t j) const {
    return data[static_cast<std::size_t>(i * stride + j)];
  }
  void fill(std::mt19937_64& rng, float lo, float hi) {
    std::uniform_real_distribution<float> dist(lo, hi);
    for (std::int64_t i = 0; i < rows; ++i) {
      for (std::int64_t j = 0; j < cols; ++j) at(i, j) = dist(rng);
    }
  }
};

// Float64, straight from the definition, plus the per-element tolerance derived in kTolerance.
struct Expected {
  reference::RefOutput out;
  std::vector<double> tol;
};

// Per output element (i, c), with u = 2^-24 and gamma(k) = k u / (1 - k u):
//   each logit s_ij = scale * q_i.k_j + b_ij carries an error <= d_i = gamma(dk + 2) *
//   max_j (scale * sum_c |q_ic k_jc| + |b_ij|) (dk products, the scale, the bias add);
//   softmax is shift-invariant, so logit errors <= d_i change each p_ij by a relative 2 d_i;
//   exp adds ~3 ulp, the row sum gamma(n), the reciprocal and the final scale 1 ulp each (8u all
//   told with the exp), and o_ic = sum_j p_ij v_jc adds gamma(n) of sum_j p_ij |v_jc|. So
//     |got - ref| <= (2 d_i + 2 gamma(n + 1) + 8u) * sum_j p_ij |v_jc|.
Expected expected(const AttentionTile& t) {
  Expected e{reference::RefOutput::of_shape({t.m, t.dv}), {}};
  e.tol.resize(e.out.value.size());
  const double u = std::ldexp(1.0, -24);
  std::vector<double> s(static_cast<std::size_t>(t.n));
  for (std::int64_t i = 0; i < t.m; ++i) {
    double logit_magnitude = 0.0, row_max = -INFINITY;
    for (std::int64_t j = 0; j < t.n; ++j) {
      double dot = 0.0, mag = 0.0;
      for (std::int64_t c = 0; c < t.dk; ++c) {
        const double p = double{t.q[i * t.q_stride + c]} * t.k[j * t.k_stride + c];
        dot += p;
        mag += std::abs(p);
      }
      double logit = t.scale * dot;
      mag *= t.scale;
      if (t.bias != nullptr) {
        logit += t.bias[i * t.bias_stride + j];
        mag += std::abs(t.bias[i * t.bias_stride + j]);
      }
      s[static_cast<std::size_t>(j)] = logit;
      row_max = std::max(row_max, logit);
      logit_magnitude = std::max(logit_magnitude, mag);
    }
    double sum = 0.0;
    for (double& x : s) sum += (x = std::exp(x - row_max));
    const double rel = 2.0 * testing::gamma(static_cast<double>(t.dk + 2)) * logit_magnitude +
                       2.0 * testing::gamma(static_cast<double>(t.n + 1)) + 8.0 * u;
    for (std::int64_t c = 0; c < t.dv; ++c) {
      double value = 0.0, mag = 0.0;
      for (std::int64_t j = 0; j < t.n; ++j) {
        const double p = s[static_cast<std::size_t>(j)] / sum;
        value += p * t.v[j * t.v_stride + c];
        mag += p * std::abs(t.v[j * t.v_stride + c]);
      }
      const auto flat = static_cast<std::size_t>(i * t.dv + c);
      e.out.value[flat] = value;
      e.out.magnitude[flat] = mag;
      e.tol[flat] = rel * mag;
    }
  }
  return e;
}

void run_impl(Impl impl, const AttentionTile& t, float* scratch) {
  switch (impl) {
    case Impl::Generic:
      cpu::detail::attention_tile_generic(t, scratch);
      break;
    case Impl::Avx512:
      cpu::detail::attention_tile_avx512(t, scratch);
      break;
    case Impl::Dispatch:
      cpu::attention_tile(t, scratch);
      break;
  }
}

class AttentionTileTest : public ::testing::TestWithParam<std::tuple<Impl, Case>> {};

TEST_P(AttentionTileTest, MatchesFloat64Reference) {
  const auto [impl, c] = GetParam();
  if (impl == Impl::Avx512 && !cpu::detail::attention_tile_has_avx512()) {
    // Without avx512f only the portable path exists; the dispatch instance below still runs it.
    EXPECT_STREQ(cpu::attention_tile_impl(), "generic");
    return;
  }
  const std::string key = case_name(c);
  std::mt19937_64 rng(testing::fresh_seed(key));
  // Odd strides larger than the rows, as when q, k, v are read out of a [tokens, 3, heads, d]
  // buffer.
  Strided q(c.m, c.dk, c.dk + 5), k(c.n, c.dk, c.dk + 3), v(c.n, c.dv, c.dv + 7);
  Strided bias(c.m, c.n, c.n + 2), o(c.m, c.dv, c.dv + 9);
  // q, k in [-2, 2] and scale dk^-1/2: logits of standard deviation ~1.3 and extremes ~+-6, the
  // range trained attention produces; biases in [-2, 2] like relative position tables.
  q.fill(rng, -2.f, 2.f);
  k.fill(rng, -2.f, 2.f);
  v.fill(rng, -1.f, 1.f);
  bias.fill(rng, -2.f, 2.f);
  if (c.mask) {
    // Mask every third key of every other row (never a whole row, as in Swin's masks).
    for (std::int64_t i = 0; i < c.m; i += 2) {
      for (std::int64_t j = 1; j < c.n; j += 3) bias.at(i, j) = -100.f;
    }
  }
  const AttentionTile t{.q = q.data.data(),
                        .q_stride = q.stride,
                        .k = k.data.data(),
                        .k_stride = k.stride,
                        .v = v.data.data(),
                        .v_stride = v.stride,
                        .o = o.data.data(),
                        .o_stride = o.stride,
                        .bias = c.bias ? bias.data.data() : nullptr,
                        .bias_stride = c.bias ? bias.stride : 0,
                        .m = c.m,
                        .n = c.n,
                        .dk = c.dk,
                        .dv = c.dv,
                        .scale = static_cast<float>(1.0 / std::sqrt(static_cast<double>(c.dk)))};
  Tensor scratch = Tensor::empty({cpu::attention_tile_scratch_floats(c.m, c.n, c.dk, c.dv)});
  testing::poison(scratch.view());  // the kernel must write what it reads
  run_impl(impl, t, scratch.f32());
  const Expected e = expected(t);
  const ConstTensorView got(reinterpret_cast<const std::byte*>(o.data.data()), Shape{c.m, c.dv},
                            Shape{o.stride, 1}, DType::F32);
  EXPECT_TRUE(testing::all_close(key, got, e.out, [&e](double, double, std::int64_t i) {
    return e.tol[static_cast<std::size_t>(i)];
  }));
  // The gaps between output rows stay untouched.
  for (std::int64_t i = 0; i < c.m; ++i) {
    for (std::int64_t j = c.dv; j < o.stride; ++j) {
      ASSERT_TRUE(std::isnan(o.at(i, j))) << key << " wrote o(" << i << ", " << j << ")";
    }
  }
}

std::vector<Case> cases() {
  std::vector<Case> out;
  // Odd sizes around the 16-lane vectors and the 6-row blocks, each with and without bias.
  for (const std::int64_t m : {1, 3, 17, 49}) {
    for (const std::int64_t n : {1, 3, 17, 49, 63}) {
      out.push_back({.m = m, .n = n, .dk = m == 17 ? 17 : 32, .dv = n == 17 ? 3 : 32});
      out.push_back({.m = m, .n = n, .dk = 16, .dv = m == 3 ? 1 : 24, .bias = true});
    }
  }
  // Swin windows with shift masks, EfficientViT's dk=16 with dv up to 96 (and past 4 vectors),
  // SHViT / global attention's long key rows, dk = 1.
  out.push_back({.m = 49, .n = 49, .dk = 32, .dv = 32, .bias = true, .mask = true});
  out.push_back({.m = 63, .n = 65, .dk = 3, .dv = 17, .bias = true, .mask = true});
  out.push_back({.m = 49, .n = 49, .dk = 16, .dv = 96, .bias = true});
  out.push_back({.m = 7, .n = 33, .dk = 16, .dv = 113});
  out.push_back({.m = 64, .n = 3136, .dk = 32, .dv = 32});
  out.push_back({.m = 13, .n = 785, .dk = 16, .dv = 16, .bias = true});
  // From 128 keys V is copied into scratch: a dv tail there, and the row block's remainder.
  out.push_back({.m = 11, .n = 130, .dk = 17, .dv = 49, .bias = true, .mask = true});
  out.push_back({.m = 1, .n = 128, .dk = 32, .dv = 80});
  out.push_back({.m = 5, .n = 9, .dk = 1, .dv = 1});
  return out;
}

std::string impl_name(Impl impl) {
  switch (impl) {
    case Impl::Generic:
      return "generic";
    case Impl::Avx512:
      return "avx512";
    case Impl::Dispatch:
      return "dispatch";
  }
  return "?";
}

INSTANTIATE_TEST_SUITE_P(Shapes, AttentionTileTest,
                         ::testing::Combine(::testing::Values(Impl::Generic, Impl::Avx512),
                                            ::testing::ValuesIn(cases())),
                         [](const auto& p) {
                           return impl_name(std::get<0>(p.param)) + "_" +
                                  case_name(std::get<1>(p.param));
                         });

INSTANTIATE_TEST_SUITE_P(
    Dispatch, AttentionTileTest,
    ::testing::Combine(::testing::Values(Impl::Dispatch),
                       ::testing::Values(Case{.m = 49, .n = 49, .dk = 32, .dv = 32, .bias = true})),
    [](const auto& p) { return impl_name(std::get<0>(p.param)); });

TEST(AttentionTile, ReportsTheImplementationItDispatchesTo) {
  EXPECT_STREQ(cpu::attention_tile_impl(),
               cpu::detail::attention_tile_has_avx512() ? "avx512" : "generic");
}

}  // namespace
}  // namespace hwnas
