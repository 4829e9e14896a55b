#include "kernels/mixers/pool_mixer.hpp"

#include <fmt/format.h>
#include <omp.h>

#include <algorithm>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/reference/pool_mixer_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "pool_mixer";
constexpr std::int64_t kMaxPool = 31;

// Test tolerance, relative to max(sum |x_i| / count + |x|, 1). Each average is a sum of <= pool
// column sums of <= pool terms (together at most 2*pool - 1 roundings of partial sums bounded by
// sum |x_i|), a divide and the subtraction: gamma(2*pool + 1) <= gamma(63) = 3.8e-6 at pool 31.
// 1e-5 leaves headroom; a wrong window, divisor or sign moves outputs by >= 1e-2.
constexpr double kTolerance = 1e-5;

// Output row y of one sample: sums[x, ch] = sum of the window's input rows at column x, then
// dst[y, x, ch] = (sum of sums over the window's columns) / count - src[y, x, ch].
[[gnu::always_inline]] inline void row_body(const float* sample, std::int64_t y,
                                            const PoolMixerDesc& d, float* sums,
                                            float* out) noexcept {
  const std::int64_t h = d.h, w = d.w, c = d.c, half = d.pool / 2;
  const std::int64_t y0 = std::max<std::int64_t>(0, y - half);
  const std::int64_t y1 = std::min(h, y + half + 1);
  const std::int64_t row_floats = w * c;
  std::copy(sample + y0 * row_floats, sample + (y0 + 1) * row_floats, sums);
  for (std::int64_t iy = y0 + 1; iy < y1; ++iy) {
    const float* in = sample + iy * row_floats;
    for (std::int64_t i = 0; i < row_floats; ++i) sums[i] += in[i];
  }
  const float* center = sample + y * row_floats;
  float* dst = out + y * row_floats;
  for (std::int64_t x = 0; x < w; ++x) {
    const std::int64_t x0 = std::max<std::int64_t>(0, x - half);
    const std::int64_t x1 = std::min(w, x + half + 1);
    const float inv = 1.f / static_cast<float>((y1 - y0) * (x1 - x0));
    float* o = dst + x * c;
    const float* first = sums + x0 * c;
    for (std::int64_t ch = 0; ch < c; ++ch) o[ch] = first[ch];
    for (std::int64_t ix = x0 + 1; ix < x1; ++ix) {
      const float* s = sums + ix * c;
      for (std::int64_t ch = 0; ch < c; ++ch) o[ch] += s[ch];
    }
    const float* xc = center + x * c;
    for (std::int64_t ch = 0; ch < c; ++ch) o[ch] = o[ch] * inv - xc[ch];
  }
}

void row_generic(const float* sample, std::int64_t y, const PoolMixerDesc& d, float* sums,
                 float* out) noexcept {
  row_body(sample, y, d, sums, out);
}
[[gnu::target("avx512f,avx512bw,avx512dq,avx512vl")]] void row_avx512(
    const float* sample, std::int64_t y, const PoolMixerDesc& d, float* sums, float* out) noexcept {
  row_body(sample, y, d, sums, out);
}

}  // namespace

std::span<const ParamSpec> pool_mixer_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "pool",
                 .default_value = "3",
                 .min = 1,
                 .max = kMaxPool,
                 .help = "pooling window (odd; PoolFormer: 3)"});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const PoolMixerDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)},
                          {"pool", std::to_string(d.pool)}});
}

PoolMixerDesc pool_mixer_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const PoolMixerDesc d{.n = s.n, .h = s.h, .w = s.w, .c = s.c, .pool = p.integer("pool")};
  check(d);
  return d;
}

void check(const PoolMixerDesc& d) {
  for (const auto& [name, v] :
       {std::pair{"n", d.n}, {"h", d.h}, {"w", d.w}, {"c", d.c}, {"pool", d.pool}}) {
    if (v < 1) {
      throw InvalidArgument(
          fmt::format("{}: {}={} must be >= 1 [{}]", kName, name, v, to_string(d)));
    }
  }
  if (d.pool % 2 == 0 || d.pool > kMaxPool) {
    throw InvalidArgument(
        fmt::format("{}: pool={} must be odd and <= {} (padding pool // 2 keeps "
                    "the size only for odd windows) [{}]",
                    kName, d.pool, kMaxPool, to_string(d)));
  }
}

OpCost cost(const PoolMixerDesc& d) {
  const double elements = static_cast<double>(d.n * d.h * d.w * d.c);
  return {.flops = elements * static_cast<double>(d.pool * d.pool + 1),
          .bytes = 4.0 * 2 * elements,
          .params = 0};
}

std::vector<WeightSpec> weight_specs(const PoolMixerDesc&) { return {}; }

PoolMixerPlan PoolMixerPlan::create(const Engine& engine, const PoolMixerDesc& d,
                                    const MixerWeights& weights) {
  check(d);
  check_weights(to_string(d), weight_specs(d), weights);
  const bool avx512 = __builtin_cpu_supports("avx512f");
  return PoolMixerPlan(d, engine.threads(), Tensor::empty({engine.threads(), d.w * d.c}),
                       avx512 ? row_avx512 : row_generic,
                       avx512 ? "hand:pool_mixer_avx512" : "hand:pool_mixer_generic");
}

void PoolMixerPlan::run(ConstTensorView src, TensorView dst) const {
  const PoolMixerDesc& d = desc_;
  [[maybe_unused]] const Shape shape = {d.n, d.h, d.w, d.c};
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == shape);
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == shape);
  const std::int64_t rows = d.n * d.h, sample_floats = d.h * d.w * d.c;
  const float* in = src.f32();
  float* out = dst.f32();
  float* scratch = scratch_.f32();
  const RowFn row = row_;
#pragma omp parallel num_threads(threads_)
  {
    float* sums = scratch + omp_get_thread_num() * d.w * d.c;
#pragma omp for schedule(static)
    for (std::int64_t r = 0; r < rows; ++r) {
      const std::int64_t b = r / d.h;
      row(in + b * sample_floats, r % d.h, d, sums, out + b * sample_floats);
    }
  }
}

std::string_view PoolMixerPlan::impl_name() const { return impl_; }

MixerEntry pool_mixer_entry() {
  return make_mixer_entry<PoolMixerDesc, PoolMixerPlan>(
      std::string(kName),
      "PoolFormer: avgpool(pool, stride 1, count_include_pad=False)(x) - x, one fused pass",
      pool_mixer_params(), pool_mixer_desc_from, reference::pool_mixer, kTolerance);
}

}  // namespace hwnas
