// The layers around the token mixers (issue 4): MLPs, stems and downsampling, by their
// `hwnas bench-op` names, type-erased over their Desc as mixer_registry.hpp does for mixers.
//
// A layer maps a contiguous NHWC f32 activation src_shape -> dst_shape (which may differ: a stem
// takes the image, downsampling halves h and w). Each layer X has, like a mixer: XDesc, X_params(),
// to_string, X_desc_from (calls check), check, cost, weight_specs (named as in the PyTorch module
// it follows, WeightSpec/MixerWeights of kernels/mixers/mixer.hpp), src_shape, dst_shape, an XPlan
// with create(engine, desc, weights) / run / impl_name, and a float64 reference in
// kernels/reference/. Tolerance contract as mixers: |got - ref| <= tolerance * max(magnitude, 1).
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

// A layer prepared for one desc. run() computes only (no allocation, checks or logs); src and dst
// are contiguous f32 of the desc's src_shape / dst_shape and must not alias. Not safe to call
// concurrently on one plan (it owns its scratch).
class LayerPlan {
 public:
  virtual ~LayerPlan() = default;
  virtual void run(ConstTensorView src, TensorView dst) const = 0;
  virtual std::string_view impl_name() const = 0;
};

struct LayerEntry {
  std::string name;
  std::string summary;
  std::span<const ParamSpec> params;
  // Each takes validated Params of `params`; throws InvalidArgument when the combination is
  // invalid.
  std::function<std::string(const Params&)> check;  // returns the canonical key
  std::function<OpCost(const Params&)> cost;
  std::function<std::vector<WeightSpec>(const Params&)> weights;
  std::function<Shape(const Params&)> src_shape;
  std::function<Shape(const Params&)> dst_shape;
  std::function<std::unique_ptr<LayerPlan>(const Engine&, const Params&, const MixerWeights&)>
      create;
  std::function<reference::RefOutput(const Params&, const ConstTensorView&, const MixerWeights&)>
      reference;
  double tolerance = 1e-5;  // see each layer's .cpp for its derivation
};

std::span<const LayerEntry> layer_registry();
// Throws InvalidArgument naming the layer and listing the known names.
const LayerEntry& find_layer(std::string_view name);

// Builds an entry from a layer's typed functions (see the header comment).
template <typename Desc, typename Plan, typename DescFrom, typename Ref>
LayerEntry make_layer_entry(std::string name, std::string summary,
                            std::span<const ParamSpec> params, DescFrom desc_from, Ref ref,
                            double tolerance) {
  return LayerEntry{
      .name = std::move(name),
      .summary = std::move(summary),
      .params = params,
      .check = [desc_from](const Params& p) { return to_string(desc_from(p)); },
      .cost = [desc_from](const Params& p) { return cost(desc_from(p)); },
      .weights = [desc_from](const Params& p) { return weight_specs(desc_from(p)); },
      .src_shape = [desc_from](const Params& p) { return src_shape(desc_from(p)); },
      .dst_shape = [desc_from](const Params& p) { return dst_shape(desc_from(p)); },
      .create = [desc_from](const Engine& engine, const Params& p,
                            const MixerWeights& w) -> std::unique_ptr<LayerPlan> {
        return std::make_unique<Plan>(Plan::create(engine, desc_from(p), w));
      },
      .reference = [desc_from, ref](const Params& p, const ConstTensorView& src,
                                    const MixerWeights& w) { return ref(desc_from(p), src, w); },
      .tolerance = tolerance,
  };
}

}  // namespace hwnas
