// linear: dst[m, n] = act(src[m, k] . weights[n, k]^T + bias[n]).
//
// Layouts: src is any contiguous view whose last axis is k and whose element count is m*k (so an NHWC
// activation [B,H,W,C] is used directly as m = B*H*W tokens); dst likewise with last axis n. Weights
// are [n, k] row-major, PyTorch's nn.Linear layout, and are reordered at create time into the layout
// oneDNN's matmul prefers (format_tag::any): with plain row-major weights the 196x768->3072 case runs
// at half the speed. The activation is fused as a post-op.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kernels/activation.hpp"
#include "kernels/bias.hpp"
#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

struct LinearDesc {
  std::int64_t m = 1, k = 1, n = 1;
  Bias bias = Bias::Add;
  Activation act = Activation::None;  // any except StarRelu
  friend bool operator==(const LinearDesc&, const LinearDesc&) = default;
};

std::span<const ParamSpec> linear_params();
std::string to_string(const LinearDesc& desc);             // "linear:m=3136,k=96,n=384,bias=1,act=none"
LinearDesc linear_desc_from(const Params& params);
LinearDesc parse_linear_desc(std::string_view key);        // throws InvalidArgument
void check(const LinearDesc& desc);                        // throws InvalidArgument naming the field
OpCost cost(const LinearDesc& desc);                       // 2*m*k*n FLOPs
Shape linear_weights_shape(const LinearDesc& desc);        // [n, k]

class LinearPlan {
 public:
  // Checks desc and weights ([n, k]) / bias ([n], or empty when bias=None), creates the primitive,
  // reorders the weights, allocates scratch. Throws InvalidArgument or Unsupported.
  static LinearPlan create(const Engine& engine, const LinearDesc& desc, ConstTensorView weights,
                           ConstTensorView bias = {});

  // Compute only. Not safe to call concurrently on one plan (it owns its scratch memory).
  void run(ConstTensorView src, TensorView dst) const;

  const LinearDesc& desc() const;
  std::string_view impl_name() const;

  LinearPlan(LinearPlan&&) noexcept;
  LinearPlan& operator=(LinearPlan&&) noexcept;
  ~LinearPlan();

 private:
  struct State;
  explicit LinearPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
