#include "kernels/cpu/modulation_passes.hpp"

#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/avx512_math.hpp"

namespace hwnas::cpu {
namespace {

float gelu_scalar(float x) noexcept {
  return 0.5f * x * (1.f + std::erf(x * 0.70710678118654752f));
}

void focal_level_generic(const FocalLevelArgs& a, std::int64_t r0, std::int64_t r1) noexcept {
  for (std::int64_t r = r0; r < r1; ++r) {
    const float g = a.gate[r * a.gate_stride];
    const float* conv = a.conv + r * a.c;
    float* all = a.ctx_all + r * a.c;
    for (std::int64_t i = 0; i < a.c; ++i) {
      const float v = gelu_scalar(conv[i]);
      if (a.ctx != nullptr) a.ctx[r * a.c + i] = v;
      all[i] = a.first ? v * g : all[i] + v * g;
      if (a.sums != nullptr) a.sums[i] += v;
    }
  }
}

void focal_modulate_generic(const float* q, const float* gate, std::int64_t q_stride,
                            const float* mod, const float* hg, float* out, std::int64_t c,
                            std::int64_t r0, std::int64_t r1) noexcept {
  for (std::int64_t r = r0; r < r1; ++r) {
    const float g = gate[r * q_stride];
    for (std::int64_t i = 0; i < c; ++i) {
      out[r * c + i] = q[r * q_stride + i] * (mod[r * c + i] + g * hg[i]);
    }
  }
}

void multiply_generic(float* x, std::int64_t x_stride, const float* y, std::int64_t y_stride,
                      std::int64_t c, std::int64_t r0, std::int64_t r1) noexcept {
  for (std::int64_t r = r0; r < r1; ++r) {
    for (std::int64_t i = 0; i < c; ++i) x[r * x_stride + i] *= y[r * y_stride + i];
  }
}

constexpr std::int64_t kLanes = 16;

[[gnu::target("avx512f"), gnu::always_inline]] inline __mmask16 tail_mask(
    std::int64_t left) noexcept {
  return left >= kLanes ? __mmask16(0xFFFF) : static_cast<__mmask16>((1u << left) - 1u);
}

// 0.5 x erfc(|x|/sqrt2) for x < 0 and x - that for x >= 0, so negative inputs do not cancel 1 +
// erf.
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 gelu_ps(__m512 x) noexcept {
  const __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
  const __m512 t = _mm512_div_ps(
      _mm512_set1_ps(1.f), _mm512_fmadd_ps(z, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  p = _mm512_mul_ps(p, t);
  const __m512 minus_z2 = _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z);
  const __m512 half =
      _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), _mm512_mul_ps(p, exp_ps(minus_z2)));
  const __mmask16 positive = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
  return _mm512_mask_sub_ps(half, positive, x, half);
}

[[gnu::target("avx512f")]] float gelu_avx512(float x) noexcept {
  return _mm512_cvtss_f32(gelu_ps(_mm512_set1_ps(x)));
}

[[gnu::target("avx512f")]] void focal_level_avx512(const FocalLevelArgs& a, std::int64_t r0,
                                                   std::int64_t r1) noexcept {
  const std::int64_t c = a.c;
  for (std::int64_t r = r0; r < r1; ++r) {
    const __m512 g = _mm512_set1_ps(a.gate[r * a.gate_stride]);
    const float* conv = a.conv + r * c;
    float* all = a.ctx_all + r * c;
    for (std::int64_t i = 0; i < c; i += kLanes) {
      const __mmask16 m = tail_mask(c - i);
      const __m512 v = gelu_ps(_mm512_maskz_loadu_ps(m, conv + i));
      if (a.ctx != nullptr) _mm512_mask_storeu_ps(a.ctx + r * c + i, m, v);
      const __m512 acc =
          a.first ? _mm512_mul_ps(v, g) : _mm512_fmadd_ps(v, g, _mm512_maskz_loadu_ps(m, all + i));
      _mm512_mask_storeu_ps(all + i, m, acc);
      if (a.sums != nullptr) {
        _mm512_mask_storeu_ps(a.sums + i, m,
                              _mm512_add_ps(_mm512_maskz_loadu_ps(m, a.sums + i), v));
      }
    }
  }
}

[[gnu::target("avx512f")]] void focal_modulate_avx512(const float* q, const float* gate,
                                                      std::int64_t q_stride, const float* mod,
                                                      const float* hg, float* out, std::int64_t c,
                                                      std::int64_t r0, std::int64_t r1) noexcept {
  for (std::int64_t r = r0; r < r1; ++r) {
    const __m512 g = _mm512_set1_ps(gate[r * q_stride]);
    for (std::int64_t i = 0; i < c; i += kLanes) {
      const __mmask16 m = tail_mask(c - i);
      const __m512 modv = _mm512_fmadd_ps(g, _mm512_maskz_loadu_ps(m, hg + i),
                                          _mm512_maskz_loadu_ps(m, mod + r * c + i));
      _mm512_mask_storeu_ps(out + r * c + i, m,
                            _mm512_mul_ps(_mm512_maskz_loadu_ps(m, q + r * q_stride + i), modv));
    }
  }
}

[[gnu::target("avx512f")]] void multiply_avx512(float* x, std::int64_t x_stride, const float* y,
                                                std::int64_t y_stride, std::int64_t c,
                                                std::int64_t r0, std::int64_t r1) noexcept {
  for (std::int64_t r = r0; r < r1; ++r) {
    for (std::int64_t i = 0; i < c; i += kLanes) {
      const __mmask16 m = tail_mask(c - i);
      float* xp = x + r * x_stride + i;
      _mm512_mask_storeu_ps(xp, m,
                            _mm512_mul_ps(_mm512_maskz_loadu_ps(m, xp),
                                          _mm512_maskz_loadu_ps(m, y + r * y_stride + i)));
    }
  }
}

}  // namespace

const ModulationPasses& modulation_passes() {
  static const ModulationPasses kAvx512{"avx512", focal_level_avx512, focal_modulate_avx512,
                                        multiply_avx512, gelu_avx512};
  static const ModulationPasses kGeneric{"generic", focal_level_generic, focal_modulate_generic,
                                         multiply_generic, gelu_scalar};
  return __builtin_cpu_supports("avx512f") ? kAvx512 : kGeneric;
}

}  // namespace hwnas::cpu
