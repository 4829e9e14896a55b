#include "kernels/cpu/eltwise_avx512.hpp"

#include <fmt/format.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>

#include "kernels/cpu/avx512_math.hpp"

namespace hwnas::cpu {
namespace {

constexpr int kLanes = 16;
// Fewer elements than this per thread and the fork costs more than the work (a 2-thread fork is
// ~1-2 us here; 16K elements of GELU take about as long on one core).
constexpr std::int64_t kMinPerThread = std::int64_t{1} << 14;

[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 gelu_erf(__m512 x) noexcept {
  const __m512 z = _mm512_mul_ps(_mm512_abs_ps(x), _mm512_set1_ps(0.70710678118654752f));
  const __m512 t = _mm512_div_ps(_mm512_set1_ps(1.f),
                                 _mm512_fmadd_ps(z, _mm512_set1_ps(0.3275911f), _mm512_set1_ps(1.f)));
  __m512 p = _mm512_set1_ps(1.061405429f);
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-1.453152027f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(1.421413741f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(-0.284496736f));
  p = _mm512_fmadd_ps(p, t, _mm512_set1_ps(0.254829592f));
  p = _mm512_mul_ps(p, t);
  // erfc(z) = p * exp(-z^2); half = 0.5 x erfc(z).
  const __m512 erfc = _mm512_mul_ps(p, exp_ps(_mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), z), z)));
  const __m512 half = _mm512_mul_ps(_mm512_mul_ps(x, _mm512_set1_ps(0.5f)), erfc);
  const __mmask16 positive = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
  return _mm512_mask_sub_ps(half, positive, x, half);
}

// x * sigmoid(y) as x / (1 + exp(-y)); exp_ps clamps, so the denominator is finite and >= 1.
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 times_sigmoid(__m512 x, __m512 y) noexcept {
  const __m512 e = exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), y));
  return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.f), e));
}

[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 gelu_tanh(__m512 x) noexcept {
  // 2u = 2 sqrt(2/pi) (x + 0.044715 x^3)
  const __m512 x2 = _mm512_mul_ps(x, x);
  const __m512 inner = _mm512_fmadd_ps(_mm512_mul_ps(x2, x), _mm512_set1_ps(0.044715f), x);
  return times_sigmoid(x, _mm512_mul_ps(inner, _mm512_set1_ps(1.5957691216057308f)));
}

[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 silu(__m512 x) noexcept {
  return times_sigmoid(x, x);
}

using Kernel = void (*)(const float* src, float* dst, std::int64_t n) noexcept;

// Two vectors per iteration, so two independent polynomial chains are in flight.
template <Activation A>
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 activate(__m512 x) noexcept {
  if constexpr (A == Activation::GeluErf) {
    return gelu_erf(x);
  } else if constexpr (A == Activation::GeluTanh) {
    return gelu_tanh(x);
  } else {
    return silu(x);
  }
}

template <Activation A>
[[gnu::target("avx512f")]] void apply(const float* src, float* dst, std::int64_t n) noexcept {
  std::int64_t i = 0;
  for (; i + 2 * kLanes <= n; i += 2 * kLanes) {
    const __m512 a = activate<A>(_mm512_loadu_ps(src + i));
    const __m512 b = activate<A>(_mm512_loadu_ps(src + i + kLanes));
    _mm512_storeu_ps(dst + i, a);
    _mm512_storeu_ps(dst + i + kLanes, b);
  }
  for (; i < n; i += kLanes) {
    const auto lanes = static_cast<__mmask16>(n - i >= kLanes ? 0xFFFFu : (1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(dst + i, lanes, activate<A>(_mm512_maskz_loadu_ps(lanes, src + i)));
  }
}

Kernel pick_kernel(Activation act) noexcept {
  switch (act) {
    case Activation::GeluErf: return &apply<Activation::GeluErf>;
    case Activation::GeluTanh: return &apply<Activation::GeluTanh>;
    case Activation::Silu: return &apply<Activation::Silu>;
    default: return nullptr;
  }
}

}  // namespace

std::string EltwiseAvx512::why_not(const EltwiseDesc& d) {
  if (pick_kernel(d.act) == nullptr) {
    return fmt::format("act={} has no hand-written kernel (gelu_erf, gelu_tanh, silu only)",
                       to_string(d.act));
  }
  if (!__builtin_cpu_supports("avx512f")) return "this CPU lacks avx512f";
  return {};
}

void EltwiseAvx512::run(const EltwiseDesc& d, const float* src, float* dst, int threads) noexcept {
  const Kernel kernel = pick_kernel(d.act);
  const int team = static_cast<int>(
      std::clamp<std::int64_t>(d.numel / kMinPerThread, 1, std::max(threads, 1)));
  // One contiguous block per thread, split at multiples of 16 floats so only the last block has a
  // masked tail and (for an aligned tensor) every load and store is a whole cache line.
  const std::int64_t vectors = (d.numel + kLanes - 1) / kLanes;
#pragma omp parallel num_threads(team)
  {
    const std::int64_t members = omp_get_num_threads();
    const std::int64_t member = omp_get_thread_num();
    const std::int64_t begin = std::min(d.numel, vectors * member / members * kLanes);
    const std::int64_t end = std::min(d.numel, vectors * (member + 1) / members * kLanes);
    if (end > begin) kernel(src + begin, dst + begin, end - begin);
  }
}

}  // namespace hwnas::cpu
