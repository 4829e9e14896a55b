// binary: dst = src0 (op) src1, op = add or mul, with numpy-style broadcast of src1 over src0.
//
// Layouts: src0 and dst are NHWC [n, h, w, c], contiguous (a token view [B, L, C] of the same
// memory is accepted: only the element count and the last axis are checked). src1 is the contiguous
// NHWC tensor whose extent on each axis is src0's where the axis is named in desc.src1 and 1
// elsewhere:
//   src1 = "nhwc"  [n, h, w, c]  residual add, gating by a same-shaped tensor
//   src1 = "c"     [1, 1, 1, c]  per-channel scale or bias (layer scale)
//   src1 = "nc"    [n, 1, 1, c]  squeeze-and-excitation style gating
//   src1 = "hwc"   [1, h, w, c]  position embedding
//   src1 = "1"     [1, 1, 1, 1]  a scalar
// and any other ordered subset of "nhwc". dst may be src0 itself (an in-place residual add).
// Each dst element is one f32 add or multiply, so it equals the exact result rounded to f32.
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

enum class BinaryAlg { Add, Mul };

struct BinaryDesc {
  BinaryAlg alg = BinaryAlg::Add;
  std::int64_t n = 1, h = 1, w = 1, c = 1;
  std::string src1 = "nhwc";  // the axes src1 shares with src0; one of kBinarySrc1Axes
  friend bool operator==(const BinaryDesc&, const BinaryDesc&) = default;
};

// Every ordered subset of "nhwc"; "1" is the empty one (a scalar src1).
inline constexpr std::string_view kBinarySrc1Axes[] = {"nhwc", "hwc", "nwc", "nhc", "nhw", "wc",
                                                       "hc",   "hw",  "nc",  "nw",  "nh",  "c",
                                                       "w",    "h",   "n",   "1"};

std::span<const ParamSpec> binary_params();
std::string to_string(const BinaryDesc& desc);  // "binary:alg=add,n=1,h=56,w=56,c=96,src1=c"
BinaryDesc binary_desc_from(const Params& params);
BinaryDesc parse_binary_desc(std::string_view key);  // throws InvalidArgument
void check(const BinaryDesc& desc);                  // throws InvalidArgument naming the field
Shape binary_src0_shape(const BinaryDesc& desc);     // [n, h, w, c], also dst's shape
Shape binary_src1_shape(const BinaryDesc& desc);     // [n or 1, h or 1, w or 1, c or 1]
// 1 FLOP per dst element; bytes = src0 + src1 + dst; params 0 (a layer scale passed as src1 is the
// caller's parameter, not this op's).
OpCost cost(const BinaryDesc& desc);

class BinaryPlan {
 public:
  // Checks desc, creates the primitive and its scratch. Throws InvalidArgument or Unsupported.
  static BinaryPlan create(const Engine& engine, const BinaryDesc& desc);

  // Compute only. dst may be src0 itself. Not safe to call concurrently on one plan.
  void run(ConstTensorView src0, ConstTensorView src1, TensorView dst) const;

  const BinaryDesc& desc() const;
  std::string_view impl_name() const;

  BinaryPlan(BinaryPlan&&) noexcept;
  BinaryPlan& operator=(BinaryPlan&&) noexcept;
  ~BinaryPlan();

 private:
  struct State;
  explicit BinaryPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
