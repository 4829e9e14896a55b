// float64 building blocks of the layer references (kernels/layers/): a conv and a LayerNorm over
// double buffers, so a chain (conv -> LN, LN -> conv, conv -> act -> conv) stays in float64 end to
// end. Straight loops from the definitions; nothing shared with the optimized code.
#pragma once

#include <cstdint>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/tensor.hpp"

namespace hwnas::reference {

// An NHWC activation in double with a per-element magnitude (sum |terms| of the last reduction).
struct DoubleMap {
  std::int64_t n = 0, h = 0, w = 0, c = 0;
  std::vector<double> value, magnitude;
  double& v(std::int64_t b, std::int64_t y, std::int64_t x, std::int64_t ch) {
    return value[static_cast<std::size_t>(((b * h + y) * w + x) * c + ch)];
  }
};

DoubleMap to_double(const ConstTensorView& src);  // [n, h, w, c], any strides

// Dense conv, PyTorch semantics (floor output size, symmetric zero padding): weights OIHW
// [oc, ic, k, k], bias [oc]; magnitude = sum |w*x| + |bias| over taps inside the image; act applied
// after (magnitude not changed by it).
DoubleMap conv(const DoubleMap& src, const ConstTensorView& weights, const ConstTensorView& bias,
               std::int64_t k, std::int64_t stride, std::int64_t pad,
               Activation act = Activation::None);

// LayerNorm over c per pixel (biased variance), in place. magnitude becomes
// |gamma| * (|xhat| + max_magnitude_of_the_row / sigma) + |beta|: the reduction that fed the row
// (its magnitude) bounds the error the normalisation scales by 1/sigma, so a tolerance relative to
// it is the producer's dot-product bound carried through the LN.
void layer_norm(DoubleMap& map, const ConstTensorView& gamma, const ConstTensorView& beta,
                double eps);

}  // namespace hwnas::reference
