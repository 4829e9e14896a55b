#include "kernels/reference/permute_ref.hpp"

#include <array>

namespace hwnas::reference {

RefOutput permute(const PermuteDesc& d, const ConstTensorView& src) {
  const Shape dst_shape = permute_dst_shape(d);
  RefOutput out = RefOutput::of_shape(dst_shape);
  const int rank = d.shape.rank();
  std::array<std::int64_t, Shape::kMaxRank> dst_index{}, src_index{};
  for (std::int64_t flat = 0; flat < dst_shape.numel(); ++flat) {
    std::int64_t rest = flat;
    for (int a = rank - 1; a >= 0; --a) {
      dst_index[static_cast<std::size_t>(a)] = rest % dst_shape[a];
      rest /= dst_shape[a];
    }
    for (int a = 0; a < rank; ++a) {
      src_index[static_cast<std::size_t>(d.order[static_cast<std::size_t>(a)])] =
          dst_index[static_cast<std::size_t>(a)];
    }
    std::int64_t src_flat = 0;
    for (int a = 0; a < rank; ++a)
      src_flat = src_flat * d.shape[a] + src_index[static_cast<std::size_t>(a)];
    out.value[static_cast<std::size_t>(flat)] = at(src, src_flat);
  }
  return out;
}

}  // namespace hwnas::reference
