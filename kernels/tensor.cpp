#include "kernels/tensor.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/error.hpp"

namespace hwnas {

std::size_t dtype_size(DType dtype) {
  switch (dtype) {
    case DType::F32: return 4;
    case DType::BF16: return 2;
  }
  return 0;
}

std::string_view to_string(DType dtype) {
  switch (dtype) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
  }
  return "?";
}

DType parse_dtype(std::string_view name) {
  if (name == "f32") return DType::F32;
  if (name == "bf16") return DType::BF16;
  throw InvalidArgument(fmt::format("dtype: got '{}', expected one of f32, bf16", name));
}

Shape::Shape(std::initializer_list<std::int64_t> dims)
    : Shape(std::span<const std::int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const std::int64_t> dims) {
  if (dims.size() > static_cast<std::size_t>(kMaxRank)) {
    throw InvalidArgument(fmt::format("shape: rank={} exceeds the maximum rank {}", dims.size(), kMaxRank));
  }
  rank_ = static_cast<int>(dims.size());
  std::copy(dims.begin(), dims.end(), dims_.begin());
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

std::string Shape::to_string() const { return fmt::format("[{}]", fmt::join(dims(), ",")); }

bool operator==(const Shape& a, const Shape& b) {
  return a.rank_ == b.rank_ && std::equal(a.dims().begin(), a.dims().end(), b.dims().begin());
}

Strides contiguous_strides(const Shape& shape) {
  Strides strides = shape;
  std::int64_t stride = 1;
  for (int axis = shape.rank() - 1; axis >= 0; --axis) {
    strides[axis] = stride;
    stride *= shape[axis];
  }
  return strides;
}

namespace detail {

template <typename Byte>
BasicView<Byte> BasicView<Byte>::reshape(const Shape& shape) const {
  if (shape.numel() != shape_.numel()) {
    throw InvalidArgument(fmt::format("reshape: {} has {} elements, {} has {}", shape_.to_string(),
                                      shape_.numel(), shape.to_string(), shape.numel()));
  }
  if (!is_contiguous()) {
    throw InvalidArgument(
        fmt::format("reshape: view {} is not contiguous; copy it first", shape_.to_string()));
  }
  return BasicView(data_, shape, dtype_);
}

template <typename Byte>
BasicView<Byte> BasicView<Byte>::permute(std::span<const int> order) const {
  if (static_cast<int>(order.size()) != rank()) {
    throw InvalidArgument(fmt::format("permute: order has {} axes, view {} has rank {}", order.size(),
                                      shape_.to_string(), rank()));
  }
  Shape shape = shape_;
  Strides strides = strides_;
  std::array<bool, Shape::kMaxRank> seen{};
  for (int i = 0; i < rank(); ++i) {
    const int axis = order[static_cast<std::size_t>(i)];
    if (axis < 0 || axis >= rank() || seen[static_cast<std::size_t>(axis)]) {
      throw InvalidArgument(
          fmt::format("permute: order [{}] is not a permutation of 0..{}", fmt::join(order, ","), rank() - 1));
    }
    seen[static_cast<std::size_t>(axis)] = true;
    shape[i] = shape_[axis];
    strides[i] = strides_[axis];
  }
  return BasicView(data_, shape, strides, dtype_);
}

template <typename Byte>
BasicView<Byte> BasicView<Byte>::slice(int axis, std::int64_t begin, std::int64_t end) const {
  if (axis < 0 || axis >= rank() || begin < 0 || end > shape_[axis] || begin > end) {
    throw InvalidArgument(fmt::format("slice: axis={} range [{}, {}) is outside view {}", axis, begin,
                                      end, shape_.to_string()));
  }
  Shape shape = shape_;
  shape[axis] = end - begin;
  const auto offset = static_cast<std::ptrdiff_t>(begin * strides_[axis]) *
                      static_cast<std::ptrdiff_t>(dtype_size(dtype_));
  return BasicView(data_ + offset, shape, strides_, dtype_);
}

template class BasicView<std::byte>;
template class BasicView<const std::byte>;

}  // namespace detail

void Tensor::Free::operator()(std::byte* p) const noexcept { std::free(p); }

Tensor Tensor::empty(const Shape& shape, DType dtype) {
  for (std::int64_t d : shape.dims()) {
    if (d < 0) throw InvalidArgument(fmt::format("tensor: negative extent in shape {}", shape.to_string()));
  }
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  // aligned_alloc wants a multiple of the alignment; never ask for 0 bytes so data() is non-null.
  std::size_t bytes = std::max<std::size_t>(t.nbytes(), 1);
  bytes = (bytes + kAlignment - 1) / kAlignment * kAlignment;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(kAlignment, bytes));
  if (p == nullptr) throw std::bad_alloc();
  t.data_.reset(p);
  return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype) {
  Tensor t = empty(shape, dtype);
  std::memset(t.data_.get(), 0, t.nbytes());
  return t;
}

Tensor Tensor::copy_of(ConstTensorView src) {
  Tensor t = empty(src.shape(), src.dtype());
  copy(src, t.view());
  return t;
}

void copy(ConstTensorView src, TensorView dst) {
  if (!(src.shape() == dst.shape()) || src.dtype() != dst.dtype()) {
    throw InvalidArgument(fmt::format("copy: src {} {} does not match dst {} {}", src.shape().to_string(),
                                      to_string(src.dtype()), dst.shape().to_string(), to_string(dst.dtype())));
  }
  const std::size_t elem = dtype_size(src.dtype());
  const int rank = src.rank();
  const std::int64_t total = src.numel();
  std::array<std::int64_t, Shape::kMaxRank> index{};
  for (std::int64_t n = 0; n < total; ++n) {
    std::int64_t src_off = 0;
    std::int64_t dst_off = 0;
    for (int a = 0; a < rank; ++a) {
      src_off += index[static_cast<std::size_t>(a)] * src.strides()[a];
      dst_off += index[static_cast<std::size_t>(a)] * dst.strides()[a];
    }
    std::memcpy(dst.data() + dst_off * static_cast<std::int64_t>(elem),
                src.data() + src_off * static_cast<std::int64_t>(elem), elem);
    for (int a = rank - 1; a >= 0; --a) {
      if (++index[static_cast<std::size_t>(a)] < src.shape()[a]) break;
      index[static_cast<std::size_t>(a)] = 0;
    }
  }
}

}  // namespace hwnas
