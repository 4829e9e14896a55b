#include "kernels/cpu/layer_norm_avx512.hpp"

#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/cpu/avx512_math.hpp"

namespace hwnas::cpu {
namespace {

constexpr int kLanes = 16;

struct Args {
  const float* src;
  float* dst;
  std::int64_t rows, c;
  float eps;
  const float* gamma;  // [c], or null without scale
  const float* beta;   // [c], or null without shift
};

// (x - mean) * rstd, then the affine terms of A for the lanes at a.gamma/a.beta + at.
template <LayerNormAffine A>
[[gnu::target("avx512f"), gnu::always_inline]] inline __m512 normalise(
    const Args& a, __m512 x, __m512 mean, __m512 rstd, std::int64_t at, __mmask16 lanes) noexcept {
  const __m512 y = _mm512_mul_ps(_mm512_sub_ps(x, mean), rstd);
  if constexpr (A == LayerNormAffine::None) {
    return y;
  } else if constexpr (A == LayerNormAffine::Scale) {
    return _mm512_mul_ps(y, _mm512_maskz_loadu_ps(lanes, a.gamma + at));
  } else {
    return _mm512_fmadd_ps(y, _mm512_maskz_loadu_ps(lanes, a.gamma + at),
                           _mm512_maskz_loadu_ps(lanes, a.beta + at));
  }
}

// One row, three passes. Full vectors go through two accumulators (c = 96 is 6 vectors: two chains of
// 3 adds instead of one of 6); the c % 16 tail is a masked vector whose dead lanes load as zero and
// are kept out of the squared deviations by a masked subtract.
template <LayerNormAffine A>
[[gnu::target("avx512f")]] void rows(const Args& a, std::int64_t begin, std::int64_t end) noexcept {
  const std::int64_t c = a.c;
  const std::int64_t full = c / kLanes * kLanes;
  const auto tail = static_cast<__mmask16>((1u << (c - full)) - 1u);
  const __m512 inv_c = _mm512_set1_ps(1.f / static_cast<float>(c));
  const __m512 eps = _mm512_set1_ps(a.eps);
  for (std::int64_t r = begin; r < end; ++r) {
    const float* in = a.src + r * c;
    float* out = a.dst + r * c;
    __m512 sum0 = _mm512_maskz_loadu_ps(tail, in + full), sum1 = _mm512_setzero_ps();
    std::int64_t j = 0;
    for (; j + 2 * kLanes <= full; j += 2 * kLanes) {
      sum0 = _mm512_add_ps(sum0, _mm512_loadu_ps(in + j));
      sum1 = _mm512_add_ps(sum1, _mm512_loadu_ps(in + j + kLanes));
    }
    if (j < full) sum0 = _mm512_add_ps(sum0, _mm512_loadu_ps(in + j));
    const __m512 mean = _mm512_mul_ps(sum_all_lanes(_mm512_add_ps(sum0, sum1)), inv_c);

    const __m512 dev_tail = _mm512_maskz_sub_ps(tail, _mm512_maskz_loadu_ps(tail, in + full), mean);
    __m512 sq0 = _mm512_mul_ps(dev_tail, dev_tail), sq1 = _mm512_setzero_ps();
    for (j = 0; j + 2 * kLanes <= full; j += 2 * kLanes) {
      const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(in + j), mean);
      const __m512 d1 = _mm512_sub_ps(_mm512_loadu_ps(in + j + kLanes), mean);
      sq0 = _mm512_fmadd_ps(d0, d0, sq0);
      sq1 = _mm512_fmadd_ps(d1, d1, sq1);
    }
    if (j < full) {
      const __m512 d0 = _mm512_sub_ps(_mm512_loadu_ps(in + j), mean);
      sq0 = _mm512_fmadd_ps(d0, d0, sq0);
    }
    const __m512 variance = _mm512_mul_ps(sum_all_lanes(_mm512_add_ps(sq0, sq1)), inv_c);
    // The all-ones masked sqrt: see avx512_math.hpp on GCC 12 and _mm512_undefined_ps().
    const __m512 rstd = _mm512_div_ps(_mm512_set1_ps(1.f),
                                      _mm512_maskz_sqrt_ps(static_cast<__mmask16>(0xFFFF), _mm512_add_ps(variance, eps)));

    const auto all = static_cast<__mmask16>(0xFFFF);
    for (j = 0; j < full; j += kLanes) {
      _mm512_storeu_ps(out + j, normalise<A>(a, _mm512_loadu_ps(in + j), mean, rstd, j, all));
    }
    if (tail != 0) {
      _mm512_mask_storeu_ps(out + full, tail,
                            normalise<A>(a, _mm512_maskz_loadu_ps(tail, in + full), mean, rstd, full, tail));
    }
  }
}

using RowsKernel = void (*)(const Args&, std::int64_t, std::int64_t) noexcept;

RowsKernel pick_kernel(LayerNormAffine affine) noexcept {
  switch (affine) {
    case LayerNormAffine::None: return &rows<LayerNormAffine::None>;
    case LayerNormAffine::Scale: return &rows<LayerNormAffine::Scale>;
    case LayerNormAffine::ScaleShift: return &rows<LayerNormAffine::ScaleShift>;
  }
  return nullptr;
}

std::vector<float> copy_of(ConstTensorView t) {
  std::vector<float> out(static_cast<std::size_t>(t.numel()));
  const std::int64_t stride = t.strides()[0];
  for (std::int64_t i = 0; i < t.numel(); ++i) out[static_cast<std::size_t>(i)] = t.f32()[i * stride];
  return out;
}

}  // namespace

struct LayerNormAvx512::State {
  LayerNormDesc desc;
  int threads = 1;
  std::vector<float> gamma, beta;  // copies; empty when the desc's affine does not use them
  RowsKernel kernel = nullptr;
};

std::string LayerNormAvx512::why_not(const LayerNormDesc& /*desc*/) {
  if (!__builtin_cpu_supports("avx512f")) return "this CPU lacks avx512f";
  return {};
}

LayerNormAvx512::LayerNormAvx512(std::unique_ptr<State> state) : state_(std::move(state)) {}
LayerNormAvx512::LayerNormAvx512(LayerNormAvx512&&) noexcept = default;
LayerNormAvx512& LayerNormAvx512::operator=(LayerNormAvx512&&) noexcept = default;
LayerNormAvx512::~LayerNormAvx512() = default;

LayerNormAvx512 LayerNormAvx512::create(const Engine& engine, const LayerNormDesc& d,
                                        ConstTensorView gamma, ConstTensorView beta) {
  HWNAS_ASSERT(why_not(d).empty());
  auto s = std::make_unique<State>();
  s->desc = d;
  s->threads = static_cast<int>(std::min<std::int64_t>(engine.threads(), d.rows));
  if (d.affine != LayerNormAffine::None) s->gamma = copy_of(gamma);
  if (d.affine == LayerNormAffine::ScaleShift) s->beta = copy_of(beta);
  s->kernel = pick_kernel(d.affine);
  return LayerNormAvx512(std::move(s));
}

void LayerNormAvx512::run(const float* src, float* dst) const noexcept {
  const State& s = *state_;
  const Args args{.src = src,
                  .dst = dst,
                  .rows = s.desc.rows,
                  .c = s.desc.c,
                  .eps = s.desc.eps,
                  .gamma = s.gamma.empty() ? nullptr : s.gamma.data(),
                  .beta = s.beta.empty() ? nullptr : s.beta.data()};
  // One contiguous block of rows per thread, so each streams its share of src and dst once.
#pragma omp parallel num_threads(s.threads)
  {
    const std::int64_t members = omp_get_num_threads();
    const std::int64_t member = omp_get_thread_num();
    s.kernel(args, args.rows * member / members, args.rows * (member + 1) / members);
  }
}

}  // namespace hwnas::cpu
