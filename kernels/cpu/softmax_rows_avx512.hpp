// A hand-written row softmax for f32 on AVX-512 CPUs ("hand:softmax_rows_avx512").
//
// Contract: src and dst are rows*n contiguous floats (dst may be src); any rows >= 1, n >= 1.
// why_not() says, before anything is built, whether it can run a desc on this CPU; run() on a desc it
// refuses is a programmer error (SoftmaxPlan::create asks first).
//
// How it works (details in the .cpp): each thread takes one contiguous block of rows (a static
// schedule, so each thread streams its part of src and dst once). A row of n <= 256 is held in
// ceil(n/16) zmm registers with a masked tail vector: one load, max, exp, sum, scale, one store, so
// src is read and dst written exactly once. Longer rows take three passes over the row (max; exp into
// dst and sum; scale dst), which stay in L1/L2 for the row lengths of attention.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/ops/softmax.hpp"

namespace hwnas::cpu {

class SoftmaxRowsAvx512 {
 public:
  static constexpr std::string_view kName = "hand:softmax_rows_avx512";
  // Longest row kept in registers (16 zmm); longer rows take the three-pass path.
  static constexpr std::int64_t kMaxRegisterRow = 256;

  // Empty when this kernel can run `desc` on this CPU, else the reason. desc must pass check().
  static std::string why_not(const SoftmaxDesc& desc);

  // Compute only; no allocation, nothing throws. Uses up to `threads` OpenMP threads.
  static void run(const SoftmaxDesc& desc, const float* src, float* dst, int threads) noexcept;
};

}  // namespace hwnas::cpu
