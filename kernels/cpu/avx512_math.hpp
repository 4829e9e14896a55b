// Vectorised f32 exp for the hand-written AVX-512 kernels (softmax, GELU, SiLU). Internal to
// kernels/cpu/: include it only from .cpp files whose functions are compiled with
// target("avx512f,...") and reached after a __builtin_cpu_supports("avx512f") check.
#pragma once

#include <immintrin.h>

namespace hwnas::cpu {

// exp(x) for 16 lanes. x is clamped to [-87.3, 88.37] first, so the result is finite and normal
// (e^-87.3 = 1.2e-38 stands in for anything smaller, an absolute error below 1.2e-38; NaN stays NaN
// through max/min's second-operand rule). Range reduction x = n ln2 + r with ln2 split in two
// (Cody-Waite), |r| <= ln2/2, then the degree-6 Taylor polynomial: its truncation error
// r^7/7! <= 6e-8 relative, so with the rounding of 8 operations the result is within ~3 ulp
// (checked against double exp by the tests of every op using it). scalef multiplies by 2^n without
// building an exponent by hand.
//
// The all-ones masked forms of max, min, roundscale and scalef are the same instructions as the plain
// intrinsics, whose _mm512_undefined_ps() pass-through trips GCC 12's -Wmaybe-uninitialized.
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 exp_ps(__m512 x) noexcept {
  const auto all = static_cast<__mmask16>(0xFFFF);
  const __m512 lo = _mm512_set1_ps(-87.3365478515625f);
  const __m512 hi = _mm512_set1_ps(88.3762626647949f);
  x = _mm512_maskz_min_ps(all, _mm512_maskz_max_ps(all, x, lo), hi);
  const __m512 n =
      _mm512_maskz_roundscale_ps(all, _mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                 _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);  // ln2 high part: 9 bits
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);      // ln2 - 0.693359375
  __m512 p = _mm512_set1_ps(1.f / 720.f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 120.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 24.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f / 6.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.f));
  return _mm512_maskz_scalef_ps(all, p, n);
}

// Horizontal sum and max of 16 lanes, returned in every lane (a butterfly: swap 256-bit halves,
// 128-bit quarters, pairs, neighbours). Written with all-ones masked shuffles because GCC 12's
// _mm512_reduce_add_ps / _mm512_reduce_max_ps pass _mm256_undefined_pd() through extracts and trip
// -Wmaybe-uninitialized.
template <typename Op>
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 butterfly(__m512 v, Op op) noexcept {
  const auto all = static_cast<__mmask16>(0xFFFF);
  v = op(v, _mm512_mask_shuffle_f32x4(v, all, v, v, _MM_SHUFFLE(1, 0, 3, 2)));
  v = op(v, _mm512_mask_shuffle_f32x4(v, all, v, v, _MM_SHUFFLE(2, 3, 0, 1)));
  v = op(v, _mm512_mask_permute_ps(v, all, v, _MM_SHUFFLE(1, 0, 3, 2)));
  return op(v, _mm512_mask_permute_ps(v, all, v, _MM_SHUFFLE(2, 3, 0, 1)));
}

// Functors, not lambdas: a lambda does not inherit its caller's target attribute.
struct AddLanes {
  [[gnu::target("avx512f"), gnu::always_inline]] __m512 operator()(__m512 a, __m512 b) const noexcept {
    return _mm512_add_ps(a, b);
  }
};
struct MaxLanes {
  [[gnu::target("avx512f"), gnu::always_inline]] __m512 operator()(__m512 a, __m512 b) const noexcept {
    return _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), a, b);
  }
};

[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 sum_all_lanes(__m512 v) noexcept {
  return butterfly(v, AddLanes{});
}

[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 max_all_lanes(__m512 v) noexcept {
  return butterfly(v, MaxLanes{});
}

}  // namespace hwnas::cpu
