#include "kernels/backend.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <vector>

#include "kernels/error.hpp"

namespace hwnas {

KernelBackend select_backend(std::string_view op, std::string_view key, KernelBackend requested,
                             KernelBackend auto_choice, const BackendRefusals& refusals) {
  std::vector<KernelBackend> order;
  if (requested != KernelBackend::Auto) {
    order = {requested};
  } else if (auto_choice == KernelBackend::Hand) {
    order = {KernelBackend::Hand, KernelBackend::OneDnn};
  } else {
    order = {KernelBackend::OneDnn, KernelBackend::Hand};
  }
  std::vector<std::string> reasons;
  for (const KernelBackend backend : order) {
    const bool hand = backend == KernelBackend::Hand;
    const std::string& why = hand ? refusals.hand_why_not : refusals.onednn_why_not;
    if (why.empty()) return backend;
    reasons.push_back(fmt::format("{}: {}", hand ? refusals.hand_name : refusals.onednn_name, why));
  }
  throw Unsupported(fmt::format("{}: backend={} cannot run {}: {}", op, to_string(requested), key,
                                fmt::join(reasons, "; ")));
}

}  // namespace hwnas
