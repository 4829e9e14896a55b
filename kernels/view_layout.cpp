#include "kernels/view_layout.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>
#include <vector>

namespace hwnas {

std::string ViewLayout::to_string() const {
  return fmt::format("{} strides {} {}", shape.to_string(), strides.to_string(),
                     hwnas::to_string(dtype));
}

bool is_non_overlapping(const Shape& shape, const Strides& strides) {
  std::vector<std::pair<std::int64_t, std::int64_t>> axes;  // (stride, extent)
  for (int axis = 0; axis < shape.rank(); ++axis) {
    if (shape[axis] > 1) axes.emplace_back(strides[axis], shape[axis]);
  }
  std::sort(axes.begin(), axes.end());
  std::int64_t span = 1;  // elements covered by the axes already visited
  for (const auto& [stride, extent] : axes) {
    if (stride < span) return false;
    span = stride * extent;
  }
  return true;
}

}  // namespace hwnas
