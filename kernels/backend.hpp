// Which implementation family an op's plan uses: our hand-written kernels (kernels/cpu/) or oneDNN.
//
// Auto applies the op's measured, deterministic rule (documented next to it in the op's .cpp) among
// the implementations that can run the desc; OneDnn and Hand force one and make create() throw
// Unsupported, with the reason, when it cannot run the desc. conv2d keeps its own ConvBackend, which
// has the same three values and words.
#pragma once

#include <string_view>
#include <vector>

namespace hwnas {

enum class KernelBackend { Auto, OneDnn, Hand };

// "auto", "onednn", "hand": the words of the bench workloads' backend= parameter.
constexpr std::string_view to_string(KernelBackend backend) {
  switch (backend) {
    case KernelBackend::Auto: return "auto";
    case KernelBackend::OneDnn: return "onednn";
    case KernelBackend::Hand: return "hand";
  }
  return "?";
}

// The implementations to try, in order of preference: for Auto, the rule's choice first and the
// other as the fallback (used when the preferred one's why_not() refuses the desc); a forced backend
// alone.
inline std::vector<KernelBackend> backend_order(KernelBackend requested, KernelBackend auto_choice) {
  if (requested != KernelBackend::Auto) return {requested};
  if (auto_choice == KernelBackend::Hand) return {KernelBackend::Hand, KernelBackend::OneDnn};
  return {KernelBackend::OneDnn, KernelBackend::Hand};
}

}  // namespace hwnas
