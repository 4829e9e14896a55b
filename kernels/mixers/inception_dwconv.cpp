// Placeholder until the mixer lands: registered so the registry links, refuses every request.
#include <fmt/format.h>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"

namespace hwnas {

MixerEntry inception_dwconv_entry() {
  static const std::vector<ParamSpec> kParams = mixer_shape_params();
  const auto refuse = [](const Params&) -> std::string {
    throw Unsupported("inception_dwconv: not implemented yet");
  };
  return MixerEntry{.name = "inception_dwconv",
                    .summary = "(not implemented yet)",
                    .params = kParams,
                    .check = refuse,
                    .cost = [refuse](const Params& p) -> OpCost {
                      refuse(p);
                      return {};
                    },
                    .weights = [refuse](const Params& p) -> std::vector<WeightSpec> {
                      refuse(p);
                      return {};
                    },
                    .create = [refuse](const Engine&, const Params& p,
                                       const MixerWeights&) -> std::unique_ptr<MixerPlan> {
                      refuse(p);
                      return nullptr;
                    },
                    .reference = [refuse](const Params& p, const ConstTensorView&,
                                          const MixerWeights&) -> reference::RefOutput {
                      refuse(p);
                      return {};
                    }};
}

}  // namespace hwnas
