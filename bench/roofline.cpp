#include "bench/roofline.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define HWNAS_X86 1
#else
#define HWNAS_X86 0
#endif

#include "bench/fingerprint.hpp"
#include "kernels/error.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

namespace {

// The hand-written loops below are compiled per ISA with target attributes and chosen at run time,
// so the library itself stays portable (never -mavx512f for the whole build).
enum class Isa { Avx512, Avx2, Generic };

Isa detect_isa() {
#if HWNAS_X86
  // libgcc's check includes the OS enabling the register state (XCR0), not only the CPUID bit.
  if (__builtin_cpu_supports("avx512f")) return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::Avx2;
#endif
  return Isa::Generic;
}

// ---- FMA peak ------------------------------------------------------------------------------------

// x -> 0.999 x + 0.001 stays normal forever: no denormal slow path, no overflow, and the compiler
// cannot fold the chain. 2^18 steps x 16 chains is ~1 ms per thread at 2 FMA/cycle.
constexpr std::int64_t kFmaSteps = std::int64_t{1} << 18;

struct FmaLoop {
  float (*run)(std::int64_t steps) noexcept;
  double flops_per_step;  // chains x lanes x 2
  const char* name;
};

#if HWNAS_X86
// 16 chains: AVX-512 FMA has a latency of 4 cycles and up to 2 issue per cycle, so >= 8 independent
// chains keep both units busy; 16 leave room for 6-cycle latencies and still fit the 32 zmm registers.
__attribute__((target("avx512f"))) float fma_avx512(std::int64_t steps) noexcept {
  constexpr int kChains = 16;
  __m512 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_ps(static_cast<float>(c));
  const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(0.001f);
  for (std::int64_t s = 0; s < steps; ++s) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_fmadd_ps(acc[c], a, b);
  }
  for (int c = 1; c < kChains; ++c) acc[0] = _mm512_add_ps(acc[0], acc[c]);
  // Not _mm512_reduce_add_ps: GCC 12 flags its internal _mm512_undefined as uninitialised.
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, acc[0]);
  float sum = 0;
  for (const float v : lanes) sum += v;
  return sum;
}

// 12 chains: 2 FMA units x 5-cycle latency (Haswell) need 10; 12 + the two constants fit in 16 ymm.
__attribute__((target("avx2,fma"))) float fma_avx2(std::int64_t steps) noexcept {
  constexpr int kChains = 12;
  __m256 acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm256_set1_ps(static_cast<float>(c));
  const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(0.001f);
  for (std::int64_t s = 0; s < steps; ++s) {
    for (int c = 0; c < kChains; ++c) acc[c] = _mm256_fmadd_ps(acc[c], a, b);
  }
  for (int c = 1; c < kChains; ++c) acc[0] = _mm256_add_ps(acc[0], acc[c]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, acc[0]);
  float sum = 0;
  for (const float v : lanes) sum += v;
  return sum;
}
#endif

// Whatever the compiler makes of 16 scalar chains (multiply + add unless the target has FMA).
float fma_generic(std::int64_t steps) noexcept {
  constexpr int kChains = 16;
  float acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = static_cast<float>(c);
  for (std::int64_t s = 0; s < steps; ++s) {
    for (float& x : acc) x = x * 0.999f + 0.001f;
  }
  float sum = 0;
  for (const float x : acc) sum += x;
  return sum;
}

FmaLoop fma_loop(Isa isa) {
  switch (isa) {
#if HWNAS_X86
    case Isa::Avx512: return {fma_avx512, 16.0 * 16 * 2, "avx512f"};
    case Isa::Avx2: return {fma_avx2, 12.0 * 8 * 2, "avx2+fma"};
#endif
    default: return {fma_generic, 16.0 * 2, "generic"};
  }
}

// ---- copy bandwidth ------------------------------------------------------------------------------

// Copies n floats (a multiple of kCopyBlock, both pointers 64-byte aligned).
using CopyFn = void (*)(const float* src, float* dst, std::int64_t n) noexcept;
constexpr std::int64_t kCopyBlock = 64;  // floats per unrolled iteration: 4 zmm, 256 bytes

#if HWNAS_X86
__attribute__((target("avx512f"))) void copy_avx512(const float* src, float* dst, std::int64_t n) noexcept {
  for (std::int64_t i = 0; i < n; i += kCopyBlock) {
    const __m512 v0 = _mm512_load_ps(src + i), v1 = _mm512_load_ps(src + i + 16),
                 v2 = _mm512_load_ps(src + i + 32), v3 = _mm512_load_ps(src + i + 48);
    _mm512_store_ps(dst + i, v0);
    _mm512_store_ps(dst + i + 16, v1);
    _mm512_store_ps(dst + i + 32, v2);
    _mm512_store_ps(dst + i + 48, v3);
  }
}
__attribute__((target("avx512f"))) void stream_avx512(const float* src, float* dst, std::int64_t n) noexcept {
  for (std::int64_t i = 0; i < n; i += kCopyBlock) {
    const __m512 v0 = _mm512_load_ps(src + i), v1 = _mm512_load_ps(src + i + 16),
                 v2 = _mm512_load_ps(src + i + 32), v3 = _mm512_load_ps(src + i + 48);
    _mm512_stream_ps(dst + i, v0);
    _mm512_stream_ps(dst + i + 16, v1);
    _mm512_stream_ps(dst + i + 32, v2);
    _mm512_stream_ps(dst + i + 48, v3);
  }
  _mm_sfence();  // streaming stores are weakly ordered; make them visible before the region ends
}
__attribute__((target("avx2"))) void copy_avx2(const float* src, float* dst, std::int64_t n) noexcept {
  for (std::int64_t i = 0; i < n; i += kCopyBlock) {
    for (int j = 0; j < kCopyBlock; j += 16) {
      const __m256 v0 = _mm256_load_ps(src + i + j), v1 = _mm256_load_ps(src + i + j + 8);
      _mm256_store_ps(dst + i + j, v0);
      _mm256_store_ps(dst + i + j + 8, v1);
    }
  }
}
__attribute__((target("avx2"))) void stream_avx2(const float* src, float* dst, std::int64_t n) noexcept {
  for (std::int64_t i = 0; i < n; i += kCopyBlock) {
    for (int j = 0; j < kCopyBlock; j += 16) {
      const __m256 v0 = _mm256_load_ps(src + i + j), v1 = _mm256_load_ps(src + i + j + 8);
      _mm256_stream_ps(dst + i + j, v0);
      _mm256_stream_ps(dst + i + j + 8, v1);
    }
  }
  _mm_sfence();
}
#endif

void copy_generic(const float* src, float* dst, std::int64_t n) noexcept {
  for (std::int64_t i = 0; i < n; ++i) dst[i] = src[i];
}

CopyFn copy_fn(Isa isa, CopyStores stores) {
  switch (isa) {
#if HWNAS_X86
    case Isa::Avx512: return stores == CopyStores::NonTemporal ? stream_avx512 : copy_avx512;
    case Isa::Avx2: return stores == CopyStores::NonTemporal ? stream_avx2 : copy_avx2;
#endif
    default: return copy_generic;  // no portable streaming store: both kinds are the plain loop
  }
}

double seconds(Milliseconds t) { return t.count() * 1e-3; }

// One parallel region per timed call, so fork/join is paid once per call; each thread does
// `passes` copies of its own buffer, enough for a call to move ~256 MiB per thread (~1 ms at L2
// speed), which leaves the region's fork/join below 1 %.
constexpr std::int64_t kBytesPerThreadPerCall = std::int64_t{256} << 20;

double copy_gbps(int threads, std::int64_t working_set_bytes, CopyFn copy, const MeasurePolicy& policy) {
  // Per thread: a source and a destination of `half` floats, each a whole number of 4 KiB pages so
  // no two threads share a page (first touch places it near the thread that uses it).
  constexpr std::int64_t kPageFloats = 1024;
  const std::int64_t per_thread_bytes = working_set_bytes / threads;
  const std::int64_t half = std::max(kPageFloats, per_thread_bytes / 8 / kPageFloats * kPageFloats);
  const std::int64_t passes = std::max<std::int64_t>(1, kBytesPerThreadPerCall / (2 * half * 4));
  Tensor buffer = Tensor::empty({threads * 2 * half});
  float* base = buffer.f32();

#pragma omp parallel for schedule(static, 1) num_threads(threads)
  for (int t = 0; t < threads; ++t) {
    float* src = base + std::int64_t{t} * 2 * half;
    std::fill(src, src + half, 1.0f);
    std::fill(src + half, src + 2 * half, 0.0f);
  }
  const auto run = [&] {
#pragma omp parallel for schedule(static, 1) num_threads(threads)
    for (int t = 0; t < threads; ++t) {
      float* src = base + std::int64_t{t} * 2 * half;
      for (std::int64_t p = 0; p < passes; ++p) {
        copy(src, src + half, half);
        asm volatile("" : : "r"(src) : "memory");  // every pass is a real copy, not a repeat to elide
      }
    }
  };
  const Milliseconds best = measure(run, policy).stats.min;
  const double bytes = static_cast<double>(threads) * static_cast<double>(passes) * 2.0 *
                       static_cast<double>(half) * sizeof(float);
  return bytes / seconds(best) / 1e9;
}

double fma_gflops(int threads, const FmaLoop& loop, const MeasurePolicy& policy) {
  // One result slot per cache line, so the threads' final stores do not share a line.
  std::vector<float> sinks(static_cast<std::size_t>(threads) * 16);
  const auto run = [&] {
#pragma omp parallel for schedule(static, 1) num_threads(threads)
    for (int t = 0; t < threads; ++t) sinks[static_cast<std::size_t>(t) * 16] = loop.run(kFmaSteps);
  };
  const Milliseconds best = measure(run, policy).stats.min;
  return static_cast<double>(threads) * static_cast<double>(kFmaSteps) * loop.flops_per_step /
         seconds(best) / 1e9;
}

double matmul_gflops(const Engine& engine, const MeasurePolicy& policy) {
  const LinearDesc desc{.m = 2048, .k = 2048, .n = 2048, .bias = Bias::None};
  Tensor weights = Tensor::empty(linear_weights_shape(desc));
  Tensor src = Tensor::empty({desc.m, desc.k});
  Tensor dst = Tensor::empty({desc.m, desc.n});
  // Small non-zero values: the throughput of f32 FMA does not depend on them, but zeros invite
  // shortcuts somewhere down the stack, and these keep every partial sum far from overflow.
  for (std::int64_t i = 0; i < weights.numel(); ++i) weights.f32()[i] = static_cast<float>(i % 13 - 6) / 64;
  for (std::int64_t i = 0; i < src.numel(); ++i) src.f32()[i] = static_cast<float>(i % 7 - 3) / 64;
  const LinearPlan plan = LinearPlan::create(engine, desc, weights.view());
  const Milliseconds best = measure([&] { plan.run(src.view(), dst.view()); }, policy).stats.min;
  return cost(desc).flops / seconds(best) / 1e9;
}

}  // namespace

std::string_view to_string(CopyStores stores) {
  return stores == CopyStores::NonTemporal ? "non_temporal" : "regular";
}

Roofline measure_roofline(const Engine& engine, const MeasurePolicy& policy) {
  check(policy);
  const int threads = engine.threads();
  const Isa isa = detect_isa();
  CacheSizes caches = read_cache_sizes();
  // Sizes typical of a recent x86 core when sysfs says nothing (containers sometimes hide it).
  if (caches.l2_bytes <= 0) caches.l2_bytes = std::int64_t{1} << 20;
  if (caches.l3_bytes <= 0) caches.l3_bytes = std::int64_t{32} << 20;
  caches.l3_instances = std::max(1, caches.l3_instances);

  Roofline r;
  r.threads = threads;
  r.l2_capacity_bytes = caches.l2_bytes * threads;
  r.l3_capacity_bytes = caches.l3_bytes * std::min(threads, caches.l3_instances);
  r.l2_working_set_bytes = r.l2_capacity_bytes / 2;
  r.l3_working_set_bytes = r.l3_capacity_bytes / 2;
  // At least 8x the caches, so at most an eighth of the traffic can hit in them; 256 MiB floor for
  // machines that report a small L3; never more than a quarter of the memory.
  const std::int64_t memory = static_cast<std::int64_t>(sysconf(_SC_PHYS_PAGES)) * sysconf(_SC_PAGESIZE);
  r.dram_working_set_bytes = std::max(8 * r.l3_capacity_bytes, std::int64_t{256} << 20);
  if (memory > 0) r.dram_working_set_bytes = std::min(r.dram_working_set_bytes, memory / 4);

  const FmaLoop loop = fma_loop(isa);
  r.peak_isa = loop.name;
  r.peak_gflops = fma_gflops(threads, loop, policy);
  r.matmul_gflops = matmul_gflops(engine, policy);
  r.l2_gbps = copy_gbps(threads, r.l2_working_set_bytes, copy_fn(isa, CopyStores::Regular), policy);
  r.l3_gbps = copy_gbps(threads, r.l3_working_set_bytes, copy_fn(isa, CopyStores::Regular), policy);
  const double regular = copy_gbps(threads, r.dram_working_set_bytes, copy_fn(isa, CopyStores::Regular), policy);
  const double streaming =
      isa == Isa::Generic ? 0.0
                          : copy_gbps(threads, r.dram_working_set_bytes, copy_fn(isa, CopyStores::NonTemporal), policy);
  r.dram_stores = streaming > regular ? CopyStores::NonTemporal : CopyStores::Regular;
  r.dram_gbps = std::max(regular, streaming);
  return r;
}

double attainable_bandwidth_gbps(const Roofline& r, double working_set_bytes) {
  const auto fits = [&](std::int64_t capacity) {
    return capacity > 0 && working_set_bytes <= static_cast<double>(capacity);
  };
  return fits(r.l2_capacity_bytes) ? r.l2_gbps : fits(r.l3_capacity_bytes) ? r.l3_gbps : r.dram_gbps;
}

double attainable_gflops(const Roofline& r, double flops, double bytes, double working_set_bytes) {
  const auto non_negative = [](std::string_view name, double v) {
    if (!(v >= 0)) throw InvalidArgument(fmt::format("roofline: {}={} must be >= 0", name, v));
  };
  non_negative("flops", flops);
  non_negative("bytes", bytes);
  non_negative("working_set_bytes", working_set_bytes);
  if (bytes == 0) return r.peak_gflops;
  // FLOP/byte x GB/s = GFLOP/s.
  return std::min(r.peak_gflops, flops / bytes * attainable_bandwidth_gbps(r, working_set_bytes));
}

double achieved_gflops(double flops, Milliseconds time) {
  if (!(time.count() > 0)) {
    throw InvalidArgument(fmt::format("roofline: time={} ms must be > 0", time.count()));
  }
  return flops / seconds(time) / 1e9;
}

double roofline_fraction(const Roofline& r, const OpCost& cost, Milliseconds time, double working_set_bytes) {
  // attainable_gflops validates the arguments; the bandwidth is the one it chose for this level.
  const double attainable = attainable_gflops(r, cost.flops, cost.bytes, working_set_bytes);
  const double gbps = attainable_bandwidth_gbps(r, working_set_bytes);
  if (!(r.peak_gflops > 0) || (cost.bytes > 0 && !(gbps > 0))) {
    throw InvalidArgument(fmt::format(
        "roofline: attainable={} GFLOP/s for flops={} bytes={}: the roofline's ceilings are not measured "
        "(peak_gflops={}, bandwidth={} GB/s)",
        attainable, cost.flops, cost.bytes, r.peak_gflops, gbps));
  }
  const double bound_s = std::max(cost.flops / (r.peak_gflops * 1e9), cost.bytes > 0 ? cost.bytes / (gbps * 1e9) : 0.0);
  const double time_s = seconds(time);
  if (!(time_s > 0)) throw InvalidArgument(fmt::format("roofline: time={} ms must be > 0", time.count()));
  return bound_s / time_s;
}

}  // namespace hwnas
