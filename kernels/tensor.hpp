// Tensor storage and views.
//
// Layout conventions (DESIGN.md): activations are NHWC, dense row-major; a token sequence is the same
// memory viewed as [B, H*W, C]. Strides are in elements, not bytes. A Tensor owns 64-byte-aligned
// memory; TensorView / ConstTensorView borrow it and never outlive it. f32 is the only dtype the ops
// accept today; BF16 exists so storage, keys and the store already carry a dtype.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace hwnas {

enum class DType : std::uint8_t { F32, BF16 };

std::size_t dtype_size(DType dtype);
std::string_view to_string(DType dtype);
DType parse_dtype(std::string_view name);  // throws InvalidArgument

// A small fixed-capacity list of extents (rank <= kMaxRank), so views can be made in run() without
// touching the heap.
class Shape {
 public:
  static constexpr int kMaxRank = 6;

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);  // throws InvalidArgument if rank > kMaxRank
  explicit Shape(std::span<const std::int64_t> dims);

  int rank() const { return rank_; }
  std::int64_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
  std::int64_t& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
  std::int64_t numel() const;
  std::span<const std::int64_t> dims() const { return {dims_.data(), static_cast<std::size_t>(rank_)}; }
  std::string to_string() const;  // "[1,56,56,96]"

  friend bool operator==(const Shape& a, const Shape& b);

 private:
  std::array<std::int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

using Strides = Shape;  // same container, entries are element strides

Strides contiguous_strides(const Shape& shape);

namespace detail {

// One implementation for both view kinds; Byte is std::byte or const std::byte.
template <typename Byte>
class BasicView {
 public:
  BasicView() = default;
  BasicView(Byte* data, const Shape& shape, DType dtype = DType::F32)
      : data_(data), shape_(shape), strides_(contiguous_strides(shape)), dtype_(dtype) {}
  BasicView(Byte* data, const Shape& shape, const Strides& strides, DType dtype)
      : data_(data), shape_(shape), strides_(strides), dtype_(dtype) {}

  Byte* data() const { return data_; }
  const Shape& shape() const { return shape_; }
  const Strides& strides() const { return strides_; }
  DType dtype() const { return dtype_; }
  int rank() const { return shape_.rank(); }
  std::int64_t dim(int axis) const { return shape_[axis]; }
  std::int64_t numel() const { return shape_.numel(); }
  bool empty() const { return data_ == nullptr; }
  bool is_contiguous() const { return strides_ == contiguous_strides(shape_); }

  // Same memory, new shape; requires a contiguous view and the same element count (throws
  // InvalidArgument otherwise). [B,H,W,C] -> [B,H*W,C] is the token view.
  BasicView reshape(const Shape& shape) const;
  // Same memory, axes reordered: new axis i is old axis order[i]. Never copies.
  BasicView permute(std::span<const int> order) const;
  BasicView permute(std::initializer_list<int> order) const {
    return permute(std::span<const int>(order.begin(), order.size()));
  }
  // Elements [begin, end) of one axis.
  BasicView slice(int axis, std::int64_t begin, std::int64_t end) const;

 private:
  Byte* data_ = nullptr;
  Shape shape_;
  Strides strides_;
  DType dtype_ = DType::F32;
};

}  // namespace detail

class TensorView : public detail::BasicView<std::byte> {
 public:
  using BasicView::BasicView;
  TensorView(const BasicView& view) : BasicView(view) {}  // NOLINT: views convert freely
  TensorView(float* data, const Shape& shape)
      : BasicView(reinterpret_cast<std::byte*>(data), shape, DType::F32) {}
  float* f32() const { return reinterpret_cast<float*>(data()); }
};

class ConstTensorView : public detail::BasicView<const std::byte> {
 public:
  using BasicView::BasicView;
  ConstTensorView(const BasicView& view) : BasicView(view) {}  // NOLINT
  ConstTensorView(const TensorView& view)                      // NOLINT: mutable -> const is free
      : BasicView(view.data(), view.shape(), view.strides(), view.dtype()) {}
  ConstTensorView(const float* data, const Shape& shape)
      : BasicView(reinterpret_cast<const std::byte*>(data), shape, DType::F32) {}
  const float* f32() const { return reinterpret_cast<const float*>(data()); }
};

// Owning, contiguous, 64-byte-aligned storage. Move-only; copy explicitly with clone().
class Tensor {
 public:
  static constexpr std::size_t kAlignment = 64;

  Tensor() = default;
  static Tensor empty(const Shape& shape, DType dtype = DType::F32);  // uninitialised
  static Tensor zeros(const Shape& shape, DType dtype = DType::F32);
  static Tensor copy_of(ConstTensorView src);  // contiguous copy of any view

  const Shape& shape() const { return shape_; }
  DType dtype() const { return dtype_; }
  std::int64_t numel() const { return shape_.numel(); }
  std::size_t nbytes() const { return static_cast<std::size_t>(numel()) * dtype_size(dtype_); }
  float* f32() { return reinterpret_cast<float*>(data_.get()); }
  const float* f32() const { return reinterpret_cast<const float*>(data_.get()); }

  TensorView view() { return TensorView(data_.get(), shape_, dtype_); }
  ConstTensorView view() const { return ConstTensorView(data_.get(), shape_, dtype_); }
  ConstTensorView cview() const { return view(); }
  Tensor clone() const { return copy_of(view()); }

 private:
  struct Free {
    void operator()(std::byte* p) const noexcept;
  };
  std::unique_ptr<std::byte[], Free> data_;
  Shape shape_;
  DType dtype_ = DType::F32;
};

// Copies any (strided) view into a same-shaped view, element by element. Not a fast path.
void copy(ConstTensorView src, TensorView dst);

}  // namespace hwnas
