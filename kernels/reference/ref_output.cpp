#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

double at(const ConstTensorView& view, std::int64_t flat) {
  std::int64_t offset = 0;
  for (int axis = view.rank() - 1; axis >= 0; --axis) {
    const std::int64_t extent = view.shape()[axis];
    offset += (flat % extent) * view.strides()[axis];
    flat /= extent;
  }
  return static_cast<double>(view.f32()[offset]);
}

}  // namespace hwnas::reference
