// Hand-written AVX-512 activations for f32 ("hand:eltwise_avx512"): GELU (erf form and tanh form) and
// SiLU, the transcendental activations of ViT/Swin/ConvNeXt MLPs and EfficientNet/MobileNetV3 blocks.
//
// Contract: src and dst are numel contiguous floats (dst may be src). why_not() says whether it can
// run a desc on this CPU; run() on a desc it refuses is a programmer error (EltwisePlan asks first).
//
// How it works (details in the .cpp): each thread takes one contiguous, 64-byte aligned block of the
// array and streams it once, 32 floats per iteration; a masked vector finishes the last block.
//   gelu_erf   0.5 x (1 + erf(x/sqrt2)) = x - 0.5 x erfc(|x|/sqrt2) for x >= 0, 0.5 x erfc(|x|/sqrt2)
//              for x < 0, with erfc from Abramowitz & Stegun 7.1.26 (absolute error <= 1.5e-7, the
//              formula oneDNN's jit uses too); no 1 + erf cancellation for negative x.
//   gelu_tanh  0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)), u = sqrt(2/pi) (x + 0.044715 x^3).
//   silu       x / (1 + exp(-x)).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/ops/eltwise.hpp"

namespace hwnas::cpu {

class EltwiseAvx512 {
 public:
  static constexpr std::string_view kName = "hand:eltwise_avx512";

  // Empty when this kernel can run `desc` on this CPU, else the reason. desc must pass check().
  static std::string why_not(const EltwiseDesc& desc);

  // Compute only; no allocation, nothing throws. Uses up to `threads` OpenMP threads.
  static void run(const EltwiseDesc& desc, const float* src, float* dst, int threads) noexcept;
};

}  // namespace hwnas::cpu
