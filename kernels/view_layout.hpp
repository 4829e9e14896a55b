// The layout of a view a plan will be run on: shape, element strides and dtype, without the data.
//
// Plans whose oneDNN primitive is built for fixed strides (matmul on a Q slice of a qkv tensor,
// permute of a strided view) take a ViewLayout at create time, so the primitive is specialised for
// those strides once; run() then only accepts views with exactly that layout (HWNAS_ASSERT). oneDNN
// could instead take DNNL_RUNTIME_DIM_VAL strides, but its fast matmul kernels (brgemm) refuse
// runtime strides and fall back to slower ones, and a plan is made for one call site anyway.
#pragma once

#include "kernels/tensor.hpp"

namespace hwnas {

struct ViewLayout {
  Shape shape;      // rank 0: "not given", the plan uses its dense default
  Strides strides;  // in elements, one per axis
  DType dtype = DType::F32;

  // Any view kind, including what reshape/permute/slice return before conversion.
  template <typename Byte>
  static ViewLayout of(const detail::BasicView<Byte>& view) {
    return {view.shape(), view.strides(), view.dtype()};
  }
  static ViewLayout dense(const Shape& shape, DType dtype = DType::F32) {
    return {shape, contiguous_strides(shape), dtype};
  }

  bool given() const { return shape.rank() > 0; }
  bool matches(const ConstTensorView& view) const {
    return view.shape() == shape && view.strides() == strides && view.dtype() == dtype;
  }
  std::string to_string() const;  // "[2,49,32] strides [4704,96,1] f32"
};

// True when no two in-bounds indices can address the same element, so writing through the view has
// no races. It checks the usual sufficient condition: with the axes of extent > 1 sorted by stride,
// each stride is >= 1 and >= the previous stride times its extent. Every view that permute and
// slice make of a dense tensor passes; an exotic interleaved layout may be refused although it does
// not overlap.
bool is_non_overlapping(const Shape& shape, const Strides& strides);

}  // namespace hwnas
