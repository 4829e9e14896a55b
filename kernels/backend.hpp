// Which implementation family an op's plan uses: our hand-written kernels (kernels/cpu/) or oneDNN.
//
// Auto applies the op's measured, deterministic rule (documented next to it in the op's .cpp) among
// the implementations that can run the desc; OneDnn and Hand force one and make create() throw
// Unsupported, with the reason, when it cannot run the desc. conv2d keeps its own ConvBackend, which
// has the same three values and words.
#pragma once

#include <string>
#include <string_view>

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

// Why each implementation cannot run a desc (empty = it can), and the names that go into the
// message when none can.
struct BackendRefusals {
  std::string_view hand_name = "hand";
  std::string hand_why_not;
  std::string_view onednn_name = "onednn";
  std::string onednn_why_not;
};

// The implementation a plan uses. Auto tries the rule's choice (`auto_choice`) first and the other
// as the fallback; a forced backend is tried alone. Throws Unsupported
// "<op>: backend=<requested> cannot run <key>: <name>: <reason>; ..." when none can run.
KernelBackend select_backend(std::string_view op, std::string_view key, KernelBackend requested,
                             KernelBackend auto_choice, const BackendRefusals& refusals);

}  // namespace hwnas
