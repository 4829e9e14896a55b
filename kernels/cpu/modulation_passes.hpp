// Fused elementwise passes of the modulation mixers (focal_modulation, gnconv): each reads and
// writes its operands once, where a chain of EltwisePlan/BinaryPlan calls would stream them several
// times. Hand-written for AVX-512 with a portable fallback chosen once per call site
// (modulation_passes() picks by __builtin_cpu_supports("avx512f")).
//
// Contract: rows are tokens; every pointer addresses row 0 and rows are `stride` floats apart (the
// stride of each operand is given separately, so a slice of a wider row can be read in place).
// Functions are noexcept and run on the calling thread only: callers parallelise over row ranges.
// GELU is the erf form; the AVX-512 path evaluates erfc by Abramowitz & Stegun 7.1.26 (absolute
// error <= 1.5e-7, as kernels/cpu/eltwise_avx512), the fallback calls std::erf.
#pragma once

#include <cstdint>
#include <string_view>

namespace hwnas::cpu {

struct FocalLevelArgs {
  const float* conv = nullptr;  // [rows, c], stride c: the depthwise conv output of this level
  float* ctx = nullptr;      // [rows, c], stride c: GELU(conv), the next level's input; may be null
  float* ctx_all = nullptr;  // [rows, c], stride c: += ctx * gate (set, not added, when first)
  const float* gate = nullptr;  // gate of row r at gate[r * gate_stride]
  std::int64_t gate_stride = 1;
  float* sums = nullptr;  // [c]: += sum over the rows of ctx, when not null
  std::int64_t c = 0;
  bool first = false;
};

struct ModulationPasses {
  std::string_view isa;  // "avx512" or "generic"
  // For rows [r0, r1): ctx = GELU(conv); ctx_all = (first ? 0 : ctx_all) + ctx * gate; sums += ctx.
  void (*focal_level)(const FocalLevelArgs& args, std::int64_t r0, std::int64_t r1) noexcept;
  // For rows [r0, r1): out[r, i] = q[r, i] * (mod[r, i] + gate[r] * hg[i]), i < c; q and gate
  // strided by q_stride (q's row holds the gate at a fixed offset), mod and out by c.
  void (*focal_modulate)(const float* q, const float* gate, std::int64_t q_stride, const float* mod,
                         const float* hg, float* out, std::int64_t c, std::int64_t r0,
                         std::int64_t r1) noexcept;
  // For rows [r0, r1): x[r, i] *= y[r, i], i < c; x strided by x_stride, y by y_stride.
  void (*multiply)(float* x, std::int64_t x_stride, const float* y, std::int64_t y_stride,
                   std::int64_t c, std::int64_t r0, std::int64_t r1) noexcept;
  // GELU of one float, as the passes compute it (for the per-sample global context).
  float (*gelu)(float x) noexcept;
};

// The AVX-512 passes on a CPU with avx512f, else the portable ones.
const ModulationPasses& modulation_passes();

}  // namespace hwnas::cpu
