// layer_norm: dst[r, :] = (src[r, :] - mean_r) / sqrt(var_r + eps) * gamma + beta, over the last
// axis.
//
// Layouts: src and dst are any contiguous views whose last axis is c and whose element count is
// rows*c, so an NHWC activation [B,H,W,C] or a token tensor [B,L,C] is normalised per token
// directly. var_r is the biased variance (divide by c), as PyTorch's nn.LayerNorm. gamma and beta
// are [c]; they are copied into the plan at create time, so the caller's buffers may go away
// afterwards.
//
// eps is carried in the canonical key as a power of ten ("eps=1e-5"): keys hold integers and words
// only, every backbone we model uses 1e-5 (PyTorch's default, Swin) or 1e-6 (ConvNeXt, MetaFormer),
// and a word from a fixed list parses back to the identical float.
//
// Implementations (LayerNormOptions::backend):
//   hand:layer_norm_avx512  any desc, AVX-512 CPUs; kernels/cpu/layer_norm_avx512.hpp
//   onednn:<impl>           any desc; oneDNN's layer_normalization_forward
// KernelBackend::Auto picks by a measured rule (layer_norm_auto_backend); Hand / OneDnn force one and
// throw Unsupported when it cannot run the desc.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kernels/backend.hpp"
#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

// Which affine parameters follow the normalisation: nn.LayerNorm(elementwise_affine=False),
// MetaFormer's LayerNorm without bias (CAFormer, ConvFormer), or the usual gamma and beta.
enum class LayerNormAffine { None, Scale, ScaleShift };

struct LayerNormDesc {
  std::int64_t rows = 1, c = 1;
  float eps = 1e-5f;  // one of kLayerNormEpsNames (check() rejects the others)
  LayerNormAffine affine = LayerNormAffine::ScaleShift;
  friend bool operator==(const LayerNormDesc&, const LayerNormDesc&) = default;
};

// The eps values a key can carry: 10^-k for k = 3 .. 12.
inline constexpr std::string_view kLayerNormEpsNames[] = {
    "1e-3", "1e-4", "1e-5", "1e-6", "1e-7", "1e-8", "1e-9", "1e-10", "1e-11", "1e-12"};

std::span<const ParamSpec> layer_norm_params();
std::string to_string(
    const LayerNormDesc& desc);  // "layer_norm:rows=3136,c=96,eps=1e-5,affine=scale_shift"
LayerNormDesc layer_norm_desc_from(const Params& params);
LayerNormDesc parse_layer_norm_desc(std::string_view key);  // throws InvalidArgument
void check(const LayerNormDesc& desc);  // throws InvalidArgument naming the field
// 8 FLOPs per element with scale and shift (mean 1, variance 3, normalise 2, affine 2), 7 with
// scale only, 6 without; bytes = src + dst + gamma/beta.
OpCost cost(const LayerNormDesc& desc);

struct LayerNormOptions {
  KernelBackend backend = KernelBackend::Auto;
};

// The backend Auto runs for `desc` on this machine (OneDnn or Hand): the measured, deterministic rule
// documented in layer_norm.cpp, applied only among implementations whose why_not() is empty.
KernelBackend layer_norm_auto_backend(const LayerNormDesc& desc);

class LayerNormPlan {
 public:
  // Checks desc, gamma ([c], or empty when affine=None) and beta ([c], or empty unless
  // affine=ScaleShift), copies them, picks an implementation, creates the primitive and its
  // scratch. Throws InvalidArgument, or Unsupported when the forced (or every) backend refuses.
  static LayerNormPlan create(const Engine& engine, const LayerNormDesc& desc,
                              ConstTensorView gamma = {}, ConstTensorView beta = {},
                              const LayerNormOptions& options = {});

  // Compute only. dst may be src itself (in place). Not safe to call concurrently on one plan.
  void run(ConstTensorView src, TensorView dst) const;

  const LayerNormDesc& desc() const;
  KernelBackend backend() const;       // OneDnn or Hand, never Auto
  std::string_view impl_name() const;  // "hand:layer_norm_avx512", "onednn:jit:uni"...

  LayerNormPlan(LayerNormPlan&&) noexcept;
  LayerNormPlan& operator=(LayerNormPlan&&) noexcept;
  ~LayerNormPlan();

 private:
  struct State;
  explicit LayerNormPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
