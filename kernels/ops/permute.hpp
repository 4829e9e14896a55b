// permute: dst = src.permute(order), materialised contiguously (torch's
// x.permute(order).contiguous()).
//
// Axis i of dst is axis order[i] of src. Attention uses it to move heads in front of tokens,
// [B, N, heads, d] -> [B, heads, N, d] (order 0,2,1,3), and back; window partitioning and NCHW <->
// NHWC are permutes too. src may be any strided f32 view of desc.shape (a slice of a qkv tensor,
// say): the plan is built for the strides given to create() (dense by default; see
// view_layout.hpp), so a view that is not a permutation of a dense tensor is materialised as well.
// dst is contiguous.
//
// An exact op: dst holds the same bits as src.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"
#include "kernels/tensor.hpp"
#include "kernels/view_layout.hpp"

namespace hwnas {

struct PermuteDesc {
  Shape shape;             // of src; rank 1..Shape::kMaxRank, extents >= 1
  std::vector<int> order;  // a permutation of 0..rank-1
  friend bool operator==(const PermuteDesc&, const PermuteDesc&) = default;
};

std::span<const ParamSpec> permute_params();
std::string to_string(const PermuteDesc& desc);  // "permute:shape=1x3136x3x32,order=0x2x1x3"
PermuteDesc permute_desc_from(const Params& params);
PermuteDesc parse_permute_desc(std::string_view key);  // throws InvalidArgument, check() included
void check(const PermuteDesc& desc);                   // throws InvalidArgument naming the field
OpCost cost(const PermuteDesc& desc);              // no FLOPs; every element read and written once
Shape permute_dst_shape(const PermuteDesc& desc);  // dst.shape[i] = shape[order[i]]

class PermutePlan {
 public:
  // Checks desc and src's layout (f32, shape == desc.shape, strides >= 0), creates the reorder
  // primitive for those strides, allocates scratch. Throws InvalidArgument or Unsupported.
  static PermutePlan create(const Engine& engine, const PermuteDesc& desc,
                            const ViewLayout& src = {});

  // Compute only. src must match the layout; dst is any contiguous f32 view with as many elements
  // as src (the permuted shape itself, or e.g. its token view [B, N, heads * d]) and must not alias
  // src.
  void run(ConstTensorView src, TensorView dst) const;

  const PermuteDesc& desc() const;
  std::string_view impl_name() const;

  PermutePlan(PermutePlan&&) noexcept;
  PermutePlan& operator=(PermutePlan&&) noexcept;
  ~PermutePlan();

 private:
  struct State;
  explicit PermutePlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
