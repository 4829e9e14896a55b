// softmax: dst[r, j] = exp(src[r, j] - max_r) / sum_k exp(src[r, k] - max_r), over the last axis.
//
// Layouts: src and dst are any contiguous views whose last axis is n and whose element count is
// rows*n. Attention scores [B, heads, L, L] are rows = B*heads*L, n = L (Swin-T stage 1, 7x7
// windows: 64 windows x 3 heads x 49 queries = rows 9408, n 49). Subtracting the row maximum first
// is oneDNN's softmax_accurate; it keeps exp() from overflowing on large logits and changes nothing
// else.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

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

class SoftmaxPlan {
 public:
  // Checks desc, creates the primitive and its scratch. Throws InvalidArgument or Unsupported.
  static SoftmaxPlan create(const Engine& engine, const SoftmaxDesc& desc);

  // Compute only. dst may be src itself (in place). Not safe to call concurrently on one plan.
  void run(ConstTensorView src, TensorView dst) const;

  const SoftmaxDesc& desc() const;
  std::string_view impl_name() const;

  SoftmaxPlan(SoftmaxPlan&&) noexcept;
  SoftmaxPlan& operator=(SoftmaxPlan&&) noexcept;
  ~SoftmaxPlan();

 private:
  struct State;
  explicit SoftmaxPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
