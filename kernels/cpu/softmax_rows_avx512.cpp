#include "kernels/cpu/softmax_rows_avx512.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <limits>

#include "kernels/cpu/avx512_math.hpp"

namespace hwnas::cpu {
namespace {

constexpr int kLanes = 16;

using RowsKernel = void (*)(const float* src, float* dst, std::int64_t rows, std::int64_t n) noexcept;

// Lanes [0, count) of a vector, count in 1 .. 16.
[[gnu::target("avx512f")]] inline __mmask16 first_lanes(std::int64_t count) noexcept {
  return static_cast<__mmask16>((1u << count) - 1u);
}

// The all-ones masked max: the same instruction as _mm512_max_ps, whose _mm512_undefined_ps()
// pass-through trips GCC 12's -Wmaybe-uninitialized.
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 max_all(__m512 a, __m512 b) noexcept {
  return _mm512_maskz_max_ps(static_cast<__mmask16>(0xFFFF), a, b);
}

// A row of n in (16(V-1), 16V] floats lives in V registers. The masked-off lanes of the tail vector
// are zero after the load; they are kept out of the max (they could exceed a row of negative logits)
// and out of the sum (exp(0 - max) is not zero), and are never stored.
template <int V>
[[gnu::target("avx512f")]] void rows_in_registers(const float* src, float* dst, std::int64_t rows,
                                                   std::int64_t n) noexcept {
  const __mmask16 tail = first_lanes(n - kLanes * (V - 1));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = src + r * n;
    float* out = dst + r * n;
    __m512 x[V];
#pragma GCC unroll 16
    for (int v = 0; v < V - 1; ++v) x[v] = _mm512_loadu_ps(in + kLanes * v);
    x[V - 1] = _mm512_maskz_loadu_ps(tail, in + kLanes * (V - 1));
    // Two chains, so the max and the sum are not one long dependency chain of V operations.
    __m512 max0 = _mm512_mask_mov_ps(_mm512_set1_ps(-std::numeric_limits<float>::infinity()), tail,
                                     x[V - 1]);
    __m512 max1 = max0;
#pragma GCC unroll 16
    for (int v = 0; v < V - 1; ++v) {
      if (v % 2 == 0) {
        max0 = max_all(max0, x[v]);
      } else {
        max1 = max_all(max1, x[v]);
      }
    }
    const __m512 row_max = max_all_lanes(max_all(max0, max1));
#pragma GCC unroll 16
    for (int v = 0; v < V; ++v) x[v] = exp_ps(_mm512_sub_ps(x[v], row_max));
    __m512 sum0 = _mm512_maskz_mov_ps(tail, x[V - 1]);
    __m512 sum1 = _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int v = 0; v < V - 1; ++v) {
      if (v % 2 == 0) {
        sum0 = _mm512_add_ps(sum0, x[v]);
      } else {
        sum1 = _mm512_add_ps(sum1, x[v]);
      }
    }
    const __m512 scale = _mm512_div_ps(_mm512_set1_ps(1.f), sum_all_lanes(_mm512_add_ps(sum0, sum1)));
#pragma GCC unroll 16
    for (int v = 0; v < V - 1; ++v) _mm512_storeu_ps(out + kLanes * v, _mm512_mul_ps(x[v], scale));
    _mm512_mask_storeu_ps(out + kLanes * (V - 1), tail, _mm512_mul_ps(x[V - 1], scale));
  }
}

// Rows longer than kMaxRegisterRow: max; exp into dst and sum; scale dst. dst == src is fine: each
// pass reads an element before it writes it.
[[gnu::target("avx512f")]] void rows_three_pass(const float* src, float* dst, std::int64_t rows,
                                                std::int64_t n) noexcept {
  const std::int64_t full = n / kLanes * kLanes;
  const __mmask16 tail = first_lanes(n - full);  // 0 when n is a multiple of 16
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* in = src + r * n;
    float* out = dst + r * n;
    __m512 max0 = _mm512_mask_loadu_ps(_mm512_set1_ps(-std::numeric_limits<float>::infinity()), tail,
                                       in + full);
    __m512 max1 = max0;
    std::int64_t j = 0;
    for (; j + 2 * kLanes <= full; j += 2 * kLanes) {
      max0 = max_all(max0, _mm512_loadu_ps(in + j));
      max1 = max_all(max1, _mm512_loadu_ps(in + j + kLanes));
    }
    if (j < full) max0 = max_all(max0, _mm512_loadu_ps(in + j));
    const __m512 row_max = max_all_lanes(max_all(max0, max1));
    __m512 sum0 = _mm512_setzero_ps(), sum1 = _mm512_setzero_ps();
    for (j = 0; j + 2 * kLanes <= full; j += 2 * kLanes) {
      const __m512 e0 = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(in + j), row_max));
      const __m512 e1 = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(in + j + kLanes), row_max));
      _mm512_storeu_ps(out + j, e0);
      _mm512_storeu_ps(out + j + kLanes, e1);
      sum0 = _mm512_add_ps(sum0, e0);
      sum1 = _mm512_add_ps(sum1, e1);
    }
    if (j < full) {
      const __m512 e = exp_ps(_mm512_sub_ps(_mm512_loadu_ps(in + j), row_max));
      _mm512_storeu_ps(out + j, e);
      sum0 = _mm512_add_ps(sum0, e);
    }
    if (tail != 0) {
      const __m512 e = exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, in + full), row_max));
      _mm512_mask_storeu_ps(out + full, tail, e);
      sum1 = _mm512_mask_add_ps(sum1, tail, sum1, e);
    }
    const __m512 scale = _mm512_div_ps(_mm512_set1_ps(1.f), sum_all_lanes(_mm512_add_ps(sum0, sum1)));
    for (j = 0; j < full; j += kLanes) {
      _mm512_storeu_ps(out + j, _mm512_mul_ps(_mm512_loadu_ps(out + j), scale));
    }
    if (tail != 0) {
      _mm512_mask_storeu_ps(out + full, tail,
                            _mm512_mul_ps(_mm512_maskz_loadu_ps(tail, out + full), scale));
    }
  }
}

template <int... V>
constexpr RowsKernel pick_register_kernel(std::int64_t vectors,
                                          std::integer_sequence<int, V...> /*unused*/) noexcept {
  RowsKernel kernel = nullptr;
  ((kernel = vectors == V + 1 ? &rows_in_registers<V + 1> : kernel), ...);
  return kernel;
}

RowsKernel pick_kernel(std::int64_t n) noexcept {
  if (n > SoftmaxRowsAvx512::kMaxRegisterRow) return &rows_three_pass;
  return pick_register_kernel((n + kLanes - 1) / kLanes,
                              std::make_integer_sequence<int, SoftmaxRowsAvx512::kMaxRegisterRow / kLanes>());
}

}  // namespace

std::string SoftmaxRowsAvx512::why_not(const SoftmaxDesc& /*desc*/) {
  if (!__builtin_cpu_supports("avx512f")) return "this CPU lacks avx512f";
  return {};
}

void SoftmaxRowsAvx512::run(const SoftmaxDesc& d, const float* src, float* dst, int threads) noexcept {
  const RowsKernel kernel = pick_kernel(d.n);
  const int team = static_cast<int>(std::min<std::int64_t>(threads, d.rows));
  // One contiguous block of rows per thread: each streams its share of src and dst exactly once.
#pragma omp parallel num_threads(team)
  {
    const std::int64_t members = omp_get_num_threads();
    const std::int64_t member = omp_get_thread_num();
    const std::int64_t begin = d.rows * member / members;
    const std::int64_t end = d.rows * (member + 1) / members;
    if (end > begin) kernel(src + begin * d.n, dst + begin * d.n, end - begin, d.n);
  }
}

}  // namespace hwnas::cpu
