// matmul: batched dst[i] = act(scale * src[i] . B[i]) for i < b, where src[i] is [m, k] and B[i] is
// weights[i] ([k, n]) or, with trans_b = Yes, weights[i]^T (weights[i] is [n, k]).
//
// Attention's two products are this op with no learnable weights ("weights" is oneDNN's name for
// the second operand): scores = Q . K^T is {b = batch * heads (* windows), m = queries, k = head
// dim, n = keys, trans_b = Yes, scale = rsqrt_scale(head dim)}; out = P . V is {k = keys, n = head
// dim}.
//
// Layouts: every operand is an f32 view of rank 3, [b, rows, cols], or of rank 4..6 whose leading
// (batch) axes multiply to b and are the same on all three operands; strides are arbitrary (src and
// weights may overlap themselves, dst must not). So Q and K can be read in place from a
// [B, N, 3, heads, d] qkv tensor (view qkv.slice(2, i, i + 1).permute({0, 2, 3, 1, 4}) as
// [B, 1, heads, N, d]) and P . V can be written straight into [B, N, heads, d] token order. The
// plan is built for the layouts given to create() (dense rank 3 by default) and run() must be
// passed views with exactly those layouts (see view_layout.hpp for why the strides are fixed at
// create time).
//
// scale is applied before the activation, as a fused post-op (one extra f32 rounding).
#pragma once

#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kernels/activation.hpp"
#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"
#include "kernels/tensor.hpp"
#include "kernels/view_layout.hpp"

namespace hwnas {

enum class Transpose { No, Yes };

struct MatmulDesc {
  std::int64_t b = 1, m = 1, k = 1, n = 1;
  Transpose trans_b = Transpose::No;  // Yes: weights are [b, n, k] and used transposed
  float scale = 1.f;                  // finite; multiplies the product before act
  Activation act = Activation::None;  // any except StarRelu
  friend bool operator==(const MatmulDesc&, const MatmulDesc&) = default;
};

// Attention's 1/sqrt(head_dim), rounded once to f32.
inline float rsqrt_scale(std::int64_t head_dim) {
  return static_cast<float>(1.0 / std::sqrt(static_cast<double>(head_dim)));
}

std::span<const ParamSpec> matmul_params();
// "matmul:b=192,m=49,k=32,n=49,trans_b=1,scale=0.17677669,act=none"; scale is written in the
// shortest decimal that parses back to the same float.
std::string to_string(const MatmulDesc& desc);
MatmulDesc matmul_desc_from(const Params& params);
MatmulDesc parse_matmul_desc(std::string_view key);  // throws InvalidArgument, check() included
void check(const MatmulDesc& desc);                  // throws InvalidArgument naming the field
OpCost cost(const MatmulDesc& desc);                 // 2*b*m*k*n FLOPs; no params
// The dense rank-3 shapes: src [b, m, k], weights [b, k, n] or [b, n, k] (trans_b), dst [b, m, n].
Shape matmul_src_shape(const MatmulDesc& desc);
Shape matmul_weights_shape(const MatmulDesc& desc);
Shape matmul_dst_shape(const MatmulDesc& desc);

// The layouts run() will be given; an entry left empty is the dense rank-3 shape above.
struct MatmulLayout {
  ViewLayout src, weights, dst;
};

class MatmulPlan {
 public:
  // Checks desc and layouts (dtype f32, shapes as above, batch axes equal, dst not overlapping),
  // creates the primitive for those strides, allocates scratch. Throws InvalidArgument or
  // Unsupported.
  static MatmulPlan create(const Engine& engine, const MatmulDesc& desc,
                           const MatmulLayout& layout = {});

  // Compute only; each view must match its layout. Not safe to call concurrently on one plan (it
  // owns its scratch memory). dst must not alias src or weights.
  void run(ConstTensorView src, ConstTensorView weights, TensorView dst) const;

  const MatmulDesc& desc() const;
  const MatmulLayout& layout() const;  // with defaults resolved
  std::string_view impl_name() const;

  MatmulPlan(MatmulPlan&&) noexcept;
  MatmulPlan& operator=(MatmulPlan&&) noexcept;
  ~MatmulPlan();

 private:
  struct State;
  explicit MatmulPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
