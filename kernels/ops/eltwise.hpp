// eltwise: dst[i] = act(src[i]) for every element.
//
// Layouts: src and dst are any contiguous views with numel elements (the op does not care about
// shape). dst may be src itself. act = none is a plain copy, kept as the bandwidth baseline the
// other activations are compared with.
//
// Implementations: every activation except StarReLU is one oneDNN eltwise primitive. StarReLU
// (scale * relu(x)^2 + bias, MetaFormer) is not a oneDNN algorithm, and composing it as relu with
// square and linear post-ops falls back to oneDNN's reference implementation ("ref:any") on
// both 2.6 and 3.2, so it runs as our own OpenMP loop ("hand:star_relu"), compiled for AVX-512,
// AVX2 and baseline x86-64 and picked at load time. GELU (both forms) and SiLU also have a
// hand-written AVX-512 kernel ("hand:eltwise_avx512", kernels/cpu/eltwise_avx512.hpp);
// EltwiseOptions::backend picks between it and oneDNN: Auto by a measured rule
// (eltwise_auto_backend), Hand / OneDnn force one and throw Unsupported when it cannot run the desc
// (StarReLU is Hand only).
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kernels/activation.hpp"
#include "kernels/backend.hpp"
#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

struct EltwiseDesc {
  std::int64_t numel = 1;
  Activation act = Activation::Relu;
  friend bool operator==(const EltwiseDesc&, const EltwiseDesc&) = default;
};

// StarReLU's learnable scalars; the other activations have none.
struct StarReluCoeffs {
  float scale = kStarReluScale;
  float bias = kStarReluBias;
};

std::span<const ParamSpec> eltwise_params();
std::string to_string(const EltwiseDesc& desc);  // "eltwise:numel=1204224,act=gelu_erf"
EltwiseDesc eltwise_desc_from(const Params& params);
EltwiseDesc parse_eltwise_desc(std::string_view key);  // throws InvalidArgument
void check(const EltwiseDesc& desc);                   // throws InvalidArgument naming the field
// FLOPs per element counted from the defining formula, a transcendental as 1 (op_cost.hpp): none 0,
// relu 1, gelu_erf 5, gelu_tanh 9, silu 3, star_relu 4, hardswish 5,
// sigmoid 3. bytes = src + dst; params = 2
// for star_relu (scale and bias), else 0.
OpCost cost(const EltwiseDesc& desc);

struct EltwiseOptions {
  KernelBackend backend = KernelBackend::Auto;
};

// The backend Auto runs for `desc` on this machine (OneDnn or Hand): the measured, deterministic rule
// documented in eltwise.cpp, applied only among implementations that can run the desc.
KernelBackend eltwise_auto_backend(const EltwiseDesc& desc);

class EltwisePlan {
 public:
  // Checks desc and creates the primitive (StarReLU: bakes in `star`, ignored for other
  // activations). Throws InvalidArgument (also for a non-finite star scale or bias) or Unsupported.
  static EltwisePlan create(const Engine& engine, const EltwiseDesc& desc,
                            const StarReluCoeffs& star = {}, const EltwiseOptions& options = {});

  // Compute only. dst may be src itself (in place). Not safe to call concurrently on one plan.
  void run(ConstTensorView src, TensorView dst) const;

  const EltwiseDesc& desc() const;
  KernelBackend backend() const;       // OneDnn or Hand, never Auto
  // "onednn:jit:avx512_core", "hand:star_relu", "hand:eltwise_avx512"
  std::string_view impl_name() const;

  EltwisePlan(EltwisePlan&&) noexcept;
  EltwisePlan& operator=(EltwisePlan&&) noexcept;
  ~EltwisePlan();

 private:
  struct State;
  explicit EltwisePlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
