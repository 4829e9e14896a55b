// A hand-written layer norm over the last axis for f32 on AVX-512 CPUs ("hand:layer_norm_avx512").
//
// Contract: src and dst are rows*c contiguous floats (dst may be src); gamma/beta as the desc's
// affine says ([c] f32, any stride; checked by LayerNormPlan::create). why_not() says whether it can
// run a desc on this CPU; create() on a desc it refuses is a programmer error.
//
// How it works (details in the .cpp): each thread takes one contiguous block of rows. Per row, three
// passes over the row while it sits in L1 (a row of c <= 4096 is at most 16 KiB): the sum, then the
// sum of squared deviations from the exact f32 mean (two-pass, as the float64 reference defines the
// variance; no E[x^2] - E[x]^2 cancellation), then (x - mean) * rstd * gamma + beta. src is read
// from memory once and dst written once; the second and third reads hit L1.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "kernels/engine.hpp"
#include "kernels/ops/layer_norm.hpp"
#include "kernels/tensor.hpp"

namespace hwnas::cpu {

class LayerNormAvx512 {
 public:
  static constexpr std::string_view kName = "hand:layer_norm_avx512";

  // Empty when this kernel can run `desc` on this CPU, else the reason. desc must pass check().
  static std::string why_not(const LayerNormDesc& desc);

  // Copies gamma and beta (empty when the desc's affine does not use them). Asserts why_not is empty.
  static LayerNormAvx512 create(const Engine& engine, const LayerNormDesc& desc,
                                ConstTensorView gamma, ConstTensorView beta);

  // Compute only; no allocation, nothing throws. Not safe to call concurrently on one object.
  void run(const float* src, float* dst) const noexcept;

  LayerNormAvx512(LayerNormAvx512&&) noexcept;
  LayerNormAvx512& operator=(LayerNormAvx512&&) noexcept;
  ~LayerNormAvx512();

 private:
  struct State;
  explicit LayerNormAvx512(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas::cpu
