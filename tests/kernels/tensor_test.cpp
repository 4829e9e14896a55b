#include "kernels/tensor.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "kernels/error.hpp"
#include "kernels/view_layout.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas {
namespace {

// Element (index...) of an f32 view, through its strides.
float element(const ConstTensorView& view, std::initializer_list<std::int64_t> index) {
  std::int64_t offset = 0;
  int axis = 0;
  for (const std::int64_t i : index) offset += i * view.strides()[axis++];
  return view.f32()[offset];
}

// A tensor whose element at flat index i holds i, so every view's contents name their source.
Tensor iota(const Shape& shape) {
  Tensor t = Tensor::empty(shape);
  for (std::int64_t i = 0; i < t.numel(); ++i) t.f32()[i] = static_cast<float>(i);
  return t;
}

template <typename Fn>
void expect_invalid(Fn&& fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected InvalidArgument containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(Shape, ExtentsStridesAndText) {
  const Shape s{2, 3, 5, 7};
  EXPECT_EQ(s.rank(), 4);
  EXPECT_EQ(s.numel(), 210);
  EXPECT_EQ(s.to_string(), "[2,3,5,7]");
  EXPECT_EQ(contiguous_strides(s), (Strides{105, 35, 7, 1}));
  EXPECT_EQ(Shape{}.numel(), 1);  // a scalar
  EXPECT_EQ(Shape{}.to_string(), "[]");
  expect_invalid([] { Shape{1, 2, 3, 4, 5, 6, 7}; }, "rank=7 exceeds the maximum rank 6");
}

TEST(DType, NamesRoundTrip) {
  EXPECT_EQ(dtype_size(DType::F32), 4u);
  EXPECT_EQ(dtype_size(DType::BF16), 2u);
  EXPECT_EQ(parse_dtype(to_string(DType::BF16)), DType::BF16);
  expect_invalid([] { parse_dtype("f16"); }, "got 'f16', expected one of f32, bf16");
}

TEST(Tensor, AllocationIsAlignedAndZeroed) {
  const Tensor t = Tensor::zeros({3, 5});
  EXPECT_EQ(reinterpret_cast<std::uintptr_t>(t.f32()) % Tensor::kAlignment, 0u);
  for (std::int64_t i = 0; i < t.numel(); ++i) EXPECT_EQ(t.f32()[i], 0.f);
  EXPECT_EQ(t.nbytes(), 60u);
  EXPECT_TRUE(t.view().is_contiguous());
  EXPECT_NE(Tensor::empty({0}).f32(), nullptr);  // zero elements still have an address
  expect_invalid([] { Tensor::empty({2, -1}); }, "negative extent in shape [2,-1]");
}

// NHWC activations are the same memory as tokens [B, H*W, C] (DESIGN.md).
TEST(TensorView, ReshapeToTokens) {
  Tensor t = iota({2, 3, 5, 4});
  const TensorView tokens = t.view().reshape({2, 15, 4});
  EXPECT_EQ(tokens.data(), t.view().data());
  EXPECT_EQ(tokens.strides(), (Strides{60, 4, 1}));
  EXPECT_TRUE(tokens.is_contiguous());
  // Token (y * W + x) of image b is pixel (b, y, x).
  EXPECT_EQ(element(tokens, {1, 2 * 5 + 3, 1}), element(t.cview(), {1, 2, 3, 1}));
  EXPECT_EQ(tokens.reshape({2, 3, 5, 4}).shape(), t.shape());
  expect_invalid(
      [&] {
        t.view().reshape({2, 16, 4});
      },
      "reshape: [2,3,5,4] has 120 elements, [2,16,4] has 128");
}

TEST(TensorView, ReshapeRefusesNonContiguousViews) {
  Tensor t = iota({2, 3, 4});
  const ConstTensorView permuted = t.cview().permute({0, 2, 1});
  expect_invalid(
      [&] {
        permuted.reshape({2, 12});
      },
      "reshape: view [2,4,3] is not contiguous; copy it first");
  const ConstTensorView sliced = t.cview().slice(2, 0, 2);
  expect_invalid([&] { sliced.reshape({12}); }, "is not contiguous");
  // A copy is contiguous again and holds the permuted order.
  const Tensor copied = Tensor::copy_of(permuted);
  EXPECT_TRUE(copied.view().is_contiguous());
  EXPECT_EQ(copied.view().reshape({2, 12}).shape(), (Shape{2, 12}));
  EXPECT_EQ(element(copied.cview(), {1, 3, 2}), element(t.cview(), {1, 2, 3}));
}

TEST(TensorView, PermuteReordersShapeAndStrides) {
  Tensor t = iota({2, 5, 3, 4});  // [B, N, heads, d]
  const ConstTensorView heads_first = t.cview().permute({0, 2, 1, 3});
  EXPECT_EQ(heads_first.shape(), (Shape{2, 3, 5, 4}));
  EXPECT_EQ(heads_first.strides(), (Strides{60, 4, 12, 1}));
  EXPECT_EQ(heads_first.data(), t.cview().data());
  EXPECT_FALSE(heads_first.is_contiguous());
  for (std::int64_t b = 0; b < 2; ++b) {
    for (std::int64_t n = 0; n < 5; ++n) {
      for (std::int64_t h = 0; h < 3; ++h) {
        for (std::int64_t c = 0; c < 4; ++c) {
          ASSERT_EQ(element(heads_first, {b, h, n, c}), element(t.cview(), {b, n, h, c}));
        }
      }
    }
  }
  // Applying the inverse permutation gives back the original view.
  const ConstTensorView back = heads_first.permute({0, 2, 1, 3});
  EXPECT_EQ(back.shape(), t.shape());
  EXPECT_TRUE(back.is_contiguous());
  // The identity and rank 1 are no-ops.
  EXPECT_EQ(t.cview().permute({0, 1, 2, 3}).strides(), t.cview().strides());
}

TEST(TensorView, PermuteRefusesBadOrders) {
  Tensor t = iota({2, 3, 4});
  expect_invalid(
      [&] {
        t.view().permute({0, 1});
      },
      "permute: order has 2 axes, view [2,3,4] has rank 3");
  expect_invalid(
      [&] {
        t.view().permute({0, 1, 1});
      },
      "permute: order [0,1,1] is not a permutation of 0..2");
  expect_invalid(
      [&] {
        t.view().permute({0, 1, 3});
      },
      "order [0,1,3] is not a permutation of 0..2");
  expect_invalid([&] { t.view().permute({-1, 0, 1}); }, "order [-1,0,1] is not a permutation");
}

TEST(TensorView, SliceKeepsStridesAndOffsetsData) {
  Tensor t = iota({2, 13, 3, 5});  // qkv-like: [B, N, 3, d]
  const ConstTensorView k = t.cview().slice(2, 1, 2);
  EXPECT_EQ(k.shape(), (Shape{2, 13, 1, 5}));
  EXPECT_EQ(k.strides(), t.cview().strides());
  EXPECT_EQ(k.data(), t.cview().data() + 5 * sizeof(float));
  EXPECT_FALSE(k.is_contiguous());
  EXPECT_EQ(element(k, {1, 7, 0, 4}), element(t.cview(), {1, 7, 1, 4}));
  // Slicing the outermost axis leaves a contiguous view; an empty range is allowed.
  EXPECT_TRUE(t.cview().slice(0, 1, 2).is_contiguous());
  EXPECT_EQ(t.cview().slice(1, 4, 4).numel(), 0);
  // Slices compose with permute: window rows [2, 5) of the heads-first view.
  const ConstTensorView rows = t.cview().permute({0, 2, 1, 3}).slice(2, 2, 5);
  EXPECT_EQ(rows.shape(), (Shape{2, 3, 3, 5}));
  EXPECT_EQ(element(rows, {1, 2, 0, 3}), element(t.cview(), {1, 2, 2, 3}));
  expect_invalid([&] { t.view().slice(1, 10, 14); },
                 "slice: axis=1 range [10, 14) is outside view [2,13,3,5]");
  expect_invalid([&] { t.view().slice(4, 0, 1); }, "slice: axis=4");
  expect_invalid([&] { t.view().slice(1, 3, 2); }, "range [3, 2)");
}

TEST(TensorView, SliceOffsetsByTheDtypeSize) {
  Tensor t = Tensor::zeros({4, 6}, DType::BF16);
  const TensorView v = t.view().slice(1, 3, 6);
  EXPECT_EQ(v.data(), t.view().data() + 3 * 2);
  EXPECT_EQ(v.dtype(), DType::BF16);
}

TEST(Copy, StridedToContiguousAndBack) {
  Tensor t = iota({3, 4, 5});
  const ConstTensorView strided = t.cview().permute({2, 0, 1}).slice(0, 1, 4);  // [3, 3, 4]
  Tensor dense = Tensor::copy_of(strided);
  EXPECT_EQ(dense.shape(), (Shape{3, 3, 4}));
  for (std::int64_t a = 0; a < 3; ++a) {
    for (std::int64_t b = 0; b < 3; ++b) {
      for (std::int64_t c = 0; c < 4; ++c) {
        ASSERT_EQ(element(dense.cview(), {a, b, c}), element(t.cview(), {b, c, a + 1}));
      }
    }
  }
  // Writing through a strided destination touches only its elements.
  Tensor target = Tensor::zeros({3, 4, 5});
  copy(dense.cview(), target.view().permute({2, 0, 1}).slice(0, 1, 4));
  for (std::int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(element(target.cview(), {i % 3, i, 0}), 0.f);
    EXPECT_EQ(element(target.cview(), {i % 3, i, 4}), 0.f);
  }
  EXPECT_EQ(element(target.cview(), {2, 3, 3}), element(t.cview(), {2, 3, 3}));
  expect_invalid([&] { copy(dense.cview(), t.view()); },
                 "copy: src [3,3,4] f32 does not match dst [3,4,5] f32");
  const Tensor cloned = dense.clone();
  EXPECT_NE(cloned.f32(), dense.f32());
  EXPECT_EQ(cloned.f32()[17], dense.f32()[17]);
}

TEST(ViewLayout, DescribesAView) {
  Tensor t = iota({2, 13, 3, 5});
  const ConstTensorView k = t.cview().slice(2, 1, 2).permute({0, 2, 1, 3});
  const ViewLayout layout = ViewLayout::of(k);
  EXPECT_TRUE(layout.given());
  EXPECT_TRUE(layout.matches(k));
  EXPECT_FALSE(layout.matches(t.cview().slice(2, 1, 2)));
  EXPECT_EQ(layout.to_string(), "[2,1,13,5] strides [195,5,15,1] f32");
  EXPECT_FALSE(ViewLayout{}.given());
  EXPECT_EQ(ViewLayout::dense({2, 3}).strides, (Strides{3, 1}));
}

TEST(ViewLayout, NonOverlapping) {
  Tensor t = iota({2, 13, 3, 5});
  const ConstTensorView k = t.cview().slice(2, 1, 2).permute({0, 2, 1, 3});
  EXPECT_TRUE(is_non_overlapping(k.shape(), k.strides()));
  EXPECT_TRUE(is_non_overlapping({4, 1, 3}, {3, 0, 1}));  // extent-1 axes do not count
  EXPECT_FALSE(is_non_overlapping({4, 3}, {1, 1}));       // rows overlap
  EXPECT_FALSE(is_non_overlapping({4, 3}, {0, 1}));       // broadcast
  EXPECT_FALSE(is_non_overlapping({4, 3}, {-3, 1}));
  EXPECT_TRUE(is_non_overlapping({4, 3}, {1, 4}));  // column-major
}

}  // namespace
}  // namespace hwnas
