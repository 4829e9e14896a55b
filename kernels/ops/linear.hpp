// linear: dst[m, n] = act(src[m, k] . weights[n, k]^T + bias[n]).
//
// Layouts: src is any contiguous view whose last axis is k and whose element count is m*k (so an
// NHWC activation [B,H,W,C] is used directly as m = B*H*W tokens); dst likewise with last axis n.
// Weights are [n, k] row-major, PyTorch's nn.Linear layout, and are reordered at create time into
// the layout oneDNN's matmul prefers (format_tag::any): with plain row-major weights the
// 196x768->3072 case runs at half the speed. The activation is fused as a post-op.
//
// Residual epilogue (the block frame x + ls * f(...), DESIGN.md): with residual = Add or ScaledAdd
// the plan computes
//   dst[m, n] = residual[m, n] + gamma[n] * act(src[m, k] . weights[n, k]^T + bias[n])
// (gamma only with ScaledAdd: a per-channel layer scale, timm's LayerScale / MetaFormer's Scale) in
// the matmul's own output pass, as oneDNN post-ops (binary mul by gamma [1, n], then binary add of
// the runtime residual [m, n]), so the layer-scale multiply and the residual add cost no extra pass
// over dst. residual is a contiguous view with dst's element count; it must not alias dst (a binary
// post-op reads it while tiles of dst are written; ping-pong two buffers instead).
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

// What the output pass adds to the product (see the header comment).
enum class Residual {
  None,       // dst = act(x . W^T + b)
  Add,        // dst = residual + act(x . W^T + b)
  ScaledAdd,  // dst = residual + gamma (.) act(x . W^T + b), gamma [n]
};
std::string_view to_string(Residual residual);   // "none", "add", "layer_scale"
Residual parse_residual(std::string_view name);  // throws InvalidArgument listing the names

struct LinearDesc {
  std::int64_t m = 1, k = 1, n = 1;
  Bias bias = Bias::Add;
  Activation act = Activation::None;  // any except StarRelu
  Residual residual = Residual::None;
  friend bool operator==(const LinearDesc&, const LinearDesc&) = default;
};

std::span<const ParamSpec> linear_params();
// "linear:m=3136,k=96,n=384,bias=1,act=none"; ",residual=add" / ",residual=layer_scale" is appended
// only when residual != None, so the keys of plain linears (stored measurements) stay unchanged.
std::string to_string(const LinearDesc& desc);
LinearDesc linear_desc_from(const Params& params);
LinearDesc parse_linear_desc(std::string_view key);        // throws InvalidArgument
void check(const LinearDesc& desc);                        // throws InvalidArgument naming the field
// 2*m*k*n FLOPs (+ m*n for the residual add, + m*n for the gamma multiply); bytes add the residual
// read and gamma; params add gamma (n) with ScaledAdd.
OpCost cost(const LinearDesc& desc);
Shape linear_weights_shape(const LinearDesc& desc);        // [n, k]

class LinearPlan {
 public:
  // Checks desc and weights ([n, k]) / bias ([n], or empty when bias=None) / gamma ([n] when
  // residual=ScaledAdd, else empty), creates the primitive, reorders the weights, copies gamma,
  // allocates scratch. Throws InvalidArgument or Unsupported.
  static LinearPlan create(const Engine& engine, const LinearDesc& desc, ConstTensorView weights,
                           ConstTensorView bias = {}, ConstTensorView gamma = {});

  // Compute only, for residual = None. Not safe to call concurrently on one plan (it owns its
  // scratch memory).
  void run(ConstTensorView src, TensorView dst) const;
  // Compute only, for residual = Add / ScaledAdd: residual is contiguous with dst's element count
  // and does not alias dst.
  void run(ConstTensorView src, ConstTensorView residual, TensorView dst) const;

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
