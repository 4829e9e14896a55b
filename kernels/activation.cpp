#include "kernels/activation.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iterator>

#include "kernels/error.hpp"

namespace hwnas {

std::string_view to_string(Activation act) {
  return kActivationNames[static_cast<std::size_t>(act)];
}

Activation parse_activation(std::string_view name) {
  for (std::size_t i = 0; i < std::size(kActivationNames); ++i) {
    if (kActivationNames[i] == name) return static_cast<Activation>(i);
  }
  throw InvalidArgument(fmt::format("activation: got act={}, expected one of {}", name,
                                    fmt::join(kActivationNames, ", ")));
}

}  // namespace hwnas
