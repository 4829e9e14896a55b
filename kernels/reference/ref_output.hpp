// What a float64 reference returns: per output element its value and its magnitude, the sum of the
// absolute values of the terms that were added up (sum |w*x| + |bias| for a dot product). Tests
// derive each element's tolerance from the magnitude (Higham's bound, STYLE.md §6).
#pragma once

#include <vector>

#include "kernels/tensor.hpp"

namespace hwnas::reference {

struct RefOutput {
  Shape shape;
  std::vector<double> value;
  std::vector<double> magnitude;

  static RefOutput of_shape(const Shape& s) {
    const auto n = static_cast<std::size_t>(s.numel());
    return {s, std::vector<double>(n, 0.0), std::vector<double>(n, 0.0)};
  }
};

// Reads element `flat` (row-major over the view's shape) of an f32 view of any strides.
double at(const ConstTensorView& view, std::int64_t flat);

}  // namespace hwnas::reference
