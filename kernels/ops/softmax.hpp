// softmax: dst[r, j] = exp(src[r, j] - max_r) / sum_k exp(src[r, k] - max_r), over the last axis.
//
// Layouts: src and dst are any contiguous views whose last axis is n and whose element count is
// rows*n. Attention scores [B, heads, L, L] are rows = B*heads*L, n = L (Swin-T stage 1, 7x7
// windows: 64 windows x 3 heads x 49 queries = rows 9408, n 49). Subtracting the row maximum first
// is oneDNN's softmax_accurate; it keeps exp() from overflowing on large logits and changes nothing
// else.
//
// Implementations (SoftmaxOptions::backend):
//   hand:softmax_rows_avx512  any desc, AVX-512 CPUs; kernels/cpu/softmax_rows_avx512.hpp
//   onednn:<impl>             any desc; oneDNN's softmax_forward (softmax_accurate)
// KernelBackend::Auto picks by a measured rule (softmax_auto_backend); Hand / OneDnn force one and
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

struct SoftmaxDesc {
  std::int64_t rows = 1, n = 1;
  friend bool operator==(const SoftmaxDesc&, const SoftmaxDesc&) = default;
};

std::span<const ParamSpec> softmax_params();
std::string to_string(const SoftmaxDesc& desc);  // "softmax:rows=9408,n=49"
SoftmaxDesc softmax_desc_from(const Params& params);
SoftmaxDesc parse_softmax_desc(std::string_view key);  // throws InvalidArgument
void check(const SoftmaxDesc& desc);                   // throws InvalidArgument naming the field
// 5 FLOPs per element: max, subtract, exp (1, op_cost.hpp), sum, scale by 1/sum. bytes = src + dst.
OpCost cost(const SoftmaxDesc& desc);

struct SoftmaxOptions {
  KernelBackend backend = KernelBackend::Auto;
};

// The backend Auto runs for `desc` on this machine (OneDnn or Hand): the measured, deterministic rule
// documented in softmax.cpp, applied only among implementations whose why_not() is empty.
KernelBackend softmax_auto_backend(const SoftmaxDesc& desc);

class SoftmaxPlan {
 public:
  // Checks desc, picks an implementation, creates the primitive and its scratch. Throws
  // InvalidArgument, or Unsupported when the forced (or every) backend refuses, with each reason.
  static SoftmaxPlan create(const Engine& engine, const SoftmaxDesc& desc,
                            const SoftmaxOptions& options = {});

  // Compute only. dst may be src itself (in place). Not safe to call concurrently on one plan.
  void run(ConstTensorView src, TensorView dst) const;

  const SoftmaxDesc& desc() const;
  KernelBackend backend() const;       // OneDnn or Hand, never Auto
  std::string_view impl_name() const;  // "hand:softmax_rows_avx512", "onednn:jit:avx512_core"...

  SoftmaxPlan(SoftmaxPlan&&) noexcept;
  SoftmaxPlan& operator=(SoftmaxPlan&&) noexcept;
  ~SoftmaxPlan();

 private:
  struct State;
  explicit SoftmaxPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
