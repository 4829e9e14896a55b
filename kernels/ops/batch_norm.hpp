// batch_norm (inference): dst = (src - mean) / sqrt(var + eps) * gamma + beta per channel, with the
// running statistics of a trained model (PyTorch nn.BatchNorm2d in eval mode).
//
// Layouts: src and dst are contiguous NHWC [n, h, w, c] (any contiguous view of n*h*w*c elements
// with last axis c, so a token view [B, H*W, C] works too); dst may be src (in place). mean, var,
// gamma and beta are f32 views of shape [c] with any stride; they are copied into the plan at
// create time.
//
// At inference a BatchNorm that follows a conv is usually folded into it (fold_batch_norm); the op
// is for a BatchNorm with no conv before it, and for measuring what folding saves.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

struct BatchNormDesc {
  std::int64_t n = 1, h = 1, w = 1, c = 1;
  float eps = 1e-5f;  // > 0; PyTorch's default
  friend bool operator==(const BatchNormDesc&, const BatchNormDesc&) = default;
};

std::span<const ParamSpec> batch_norm_params();
// "batch_norm:n=1,h=56,w=56,c=96,eps=1e-05"; eps is written in the shortest decimal that parses
// back to the same float.
std::string to_string(const BatchNormDesc& desc);
BatchNormDesc batch_norm_desc_from(const Params& params);
BatchNormDesc parse_batch_norm_desc(
    std::string_view key);              // throws InvalidArgument, check() included
void check(const BatchNormDesc& desc);  // throws InvalidArgument naming the field
// One multiply-add per element (mean, var, gamma and beta fold into a per-channel scale and shift);
// params = gamma + beta (running statistics are buffers, not parameters).
OpCost cost(const BatchNormDesc& desc);

// A BatchNorm's per-channel tensors, each f32 [c]: running mean and variance, gamma (PyTorch's
// weight) and beta (PyTorch's bias). var + eps must be > 0 everywhere.
struct BatchNormWeights {
  ConstTensorView mean, var, gamma, beta;
};

class BatchNormPlan {
 public:
  // Checks desc and weights, creates the primitive (global statistics, scale and shift), copies the
  // weights, allocates scratch. Throws InvalidArgument or Unsupported.
  static BatchNormPlan create(const Engine& engine, const BatchNormDesc& desc,
                              const BatchNormWeights& weights);

  // Compute only. Not safe to call concurrently on one plan (it owns its scratch memory).
  void run(ConstTensorView src, TensorView dst) const;

  const BatchNormDesc& desc() const;
  std::string_view impl_name() const;

  BatchNormPlan(BatchNormPlan&&) noexcept;
  BatchNormPlan& operator=(BatchNormPlan&&) noexcept;
  ~BatchNormPlan();

 private:
  struct State;
  explicit BatchNormPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

// A conv's weights and bias with a following BatchNorm folded in.
struct FoldedConv {
  Tensor weights;  // same shape as the conv's weights
  Tensor bias;     // [oc]
};

// Folds BatchNorm(conv(x)) into one conv: with s = gamma / sqrt(var + eps) per output channel,
// weights' = weights * s and bias' = (bias - mean) * s + beta. weights are PyTorch OIHW
// [oc, ic/groups, kh, kw] (any strides), bias is [oc] or empty (a conv without bias), the BatchNorm
// tensors are [oc]. Computed in float64 and rounded once to f32 (each folded value is the float64
// result correctly rounded). Throws InvalidArgument naming the mismatched shape or bad value.
FoldedConv fold_batch_norm(ConstTensorView weights, ConstTensorView bias,
                           const BatchNormWeights& bn, float eps);

}  // namespace hwnas
