// group_norm: per image and group, dst = (src - mean) / sqrt(var + eps) * gamma[ch] + beta[ch],
// mean and var over the group's h*w*(c/groups) elements (PyTorch nn.GroupNorm; var biased).
//
// PoolFormer's norm is GroupNorm(1, c): one group, statistics over all of h, w and c of an image,
// then a per-channel affine. Layouts: src and dst are contiguous NHWC [n, h, w, c] (any contiguous
// view of n*h*w*c elements with last axis c); dst may be src (in place). gamma and beta are [c]
// (or empty as affine says), any stride; they are copied into the plan at create time.
//
// Implementation (oneDNN 3.2 has no group normalization): our own OpenMP loops ("hand:group_norm").
// Pass 1 sums x - shift and its square per (image, group) in double over fixed pixel chunks in
// parallel (shift = the group's first element, so the variance does not cancel); pass 2 writes
// (x - mean) * (rstd * gamma) + beta with the per-(image, channel) factors precomputed. Measured
// (1 thread, best of 50, loaded host): 56x56x64 in 0.10 ms (0.12 ms with separate mean and variance
// passes), a LayerNorm of the same size 0.04-0.05 ms: the statistics pass widens to double.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/ops/layer_norm.hpp"
#include "kernels/params.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

struct GroupNormDesc {
  std::int64_t n = 1, h = 1, w = 1, c = 1;
  std::int64_t groups = 1;  // divides c
  float eps = 1e-5f;        // finite and > 0; PyTorch's default
  LayerNormAffine affine = LayerNormAffine::ScaleShift;
  friend bool operator==(const GroupNormDesc&, const GroupNormDesc&) = default;
};

std::span<const ParamSpec> group_norm_params();
// "group_norm:n=1,h=56,w=56,c=64,groups=1,eps=1e-05,affine=scale_shift"; eps in the shortest
// decimal that parses back to the same float.
std::string to_string(const GroupNormDesc& desc);
GroupNormDesc group_norm_desc_from(const Params& params);
GroupNormDesc parse_group_norm_desc(std::string_view key);  // throws InvalidArgument
// Throws InvalidArgument naming the field, value and key: sizes < 1, groups not dividing c, eps not
// finite or <= 0.
void check(const GroupNormDesc& desc);
// As layer_norm per element (mean 1, variance 3, normalise 2, +1 per affine term); params = c per
// affine tensor; bytes = src + dst + gamma/beta.
OpCost cost(const GroupNormDesc& desc);

class GroupNormPlan {
 public:
  // Checks desc, gamma ([c], or empty when affine=None) and beta ([c] when affine=ScaleShift,
  // else empty), copies them and allocates the partial-sum scratch. Throws InvalidArgument.
  static GroupNormPlan create(const Engine& engine, const GroupNormDesc& desc,
                              ConstTensorView gamma = {}, ConstTensorView beta = {});

  // Compute only. dst may be src itself. Not safe to call concurrently on one plan (it owns its
  // scratch).
  void run(ConstTensorView src, TensorView dst) const;

  const GroupNormDesc& desc() const;
  std::string_view impl_name() const;  // "hand:group_norm"

  GroupNormPlan(GroupNormPlan&&) noexcept;
  GroupNormPlan& operator=(GroupNormPlan&&) noexcept;
  ~GroupNormPlan();

 private:
  struct State;
  explicit GroupNormPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
