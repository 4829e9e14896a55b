// Every token mixer by its `hwnas bench-op` name, type-erased over its Desc, so the benchmark
// registry, the generic tests and (later) the supernet handle all of them the same way.
//
// Each function takes validated Params of the entry's `params` list (which begins with the shape
// parameters n, h, w, c of mixer_shape_params()) and throws InvalidArgument naming the value when
// the combination is invalid (heads not dividing c, an even kernel, ...).
#pragma once

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/engine.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas {

struct MixerEntry {
  std::string name;
  std::string summary;
  std::span<const ParamSpec> params;
  // Throws InvalidArgument when the combination is invalid; returns the canonical key.
  std::function<std::string(const Params&)> check;
  std::function<OpCost(const Params&)> cost;
  std::function<std::vector<WeightSpec>(const Params&)> weights;
  std::function<std::unique_ptr<MixerPlan>(const Engine&, const Params&, const MixerWeights&)>
      create;
  // The float64 reference: src [n, h, w, c] -> [n, h, w, c] with per-element magnitudes.
  std::function<reference::RefOutput(const Params&, const ConstTensorView&, const MixerWeights&)>
      reference;
  // The test tolerance of this mixer: |got - ref| <= tolerance * max(magnitude, 1). A property of
  // the numerics of the chain (reduction lengths, softmax); each mixer's header says where it comes
  // from.
  double tolerance = 1e-5;
};

std::span<const MixerEntry> mixer_registry();
// Throws InvalidArgument naming the mixer and listing the known names.
const MixerEntry& find_mixer(std::string_view name);

// Builds an entry from a mixer's typed functions:
//   Desc desc_from(const Params&)  (validated: calls check(desc));  std::string to_string(Desc);
//   OpCost cost(Desc); std::vector<WeightSpec> weight_specs(Desc);
//   Plan Plan::create(const Engine&, const Desc&, const MixerWeights&) with Plan : MixerPlan;
//   RefOutput ref(const Desc&, const ConstTensorView& src, const MixerWeights&).
template <typename Desc, typename Plan, typename DescFrom, typename Ref>
MixerEntry make_mixer_entry(std::string name, std::string summary,
                            std::span<const ParamSpec> params, DescFrom desc_from, Ref ref,
                            double tolerance) {
  return MixerEntry{
      .name = std::move(name),
      .summary = std::move(summary),
      .params = params,
      .check = [desc_from](const Params& p) { return to_string(desc_from(p)); },
      .cost = [desc_from](const Params& p) { return cost(desc_from(p)); },
      .weights = [desc_from](const Params& p) { return weight_specs(desc_from(p)); },
      .create = [desc_from](const Engine& engine, const Params& p,
                            const MixerWeights& w) -> std::unique_ptr<MixerPlan> {
        return std::make_unique<Plan>(Plan::create(engine, desc_from(p), w));
      },
      .reference = [desc_from, ref](const Params& p, const ConstTensorView& src,
                                    const MixerWeights& w) { return ref(desc_from(p), src, w); },
      .tolerance = tolerance,
  };
}

}  // namespace hwnas
