// Subnet: an Arch prepared to run on an engine at one batch size and resolution (DESIGN.md: building
// is not timed, forward is). Weights come from a WeightStore (the shared supernet weights, or a
// store made for this one Arch), sliced as docs/arch.md names them.
//
//   WeightStore store = make_weight_store(arch, 224, seed);
//   Subnet net = Subnet::build(engine, arch, store, {.batch = 1, .resolution = 224});
//   net.forward(images, logits);          // [1, 224, 224, 3] NHWC -> [1, 1000]
//
// forward runs stem -> stages -> head: every op a prepared plan of kernels/ (mixers through the
// mixer registry, MLPs/stem/downsample through kernels/layers or kernels/ops), on buffers allocated
// at build. The per-layer list names each prepared op and its cost, for `hwnas bench --layers`.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/engine.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/tensor.hpp"
#include "supernet/arch.hpp"
#include "supernet/search_space.hpp"
#include "supernet/weight_store.hpp"

namespace hwnas {

struct SubnetConfig {
  std::int64_t batch = 1;
  std::int64_t resolution = 224;
};

// Every weight an Arch needs, by its store name (docs/arch.md), in network order. The shapes are
// those of this Arch (its widths, ratios, kernels, heads), so they are also the `wanted` specs of
// WeightStore::view/gather.
std::vector<std::pair<std::string, WeightSpec>> arch_weight_specs(const Arch& arch,
                                                                  std::int64_t resolution);

// A store holding exactly `arch`'s weights, randomly initialised from `seed`.
WeightStore make_weight_store(const Arch& arch, std::int64_t resolution, std::uint64_t seed);
// Declares in `store` every weight any subnet of `space` may take (each block position's norms and
// MLP at the largest width and ratio, each mixer option's weights under its own name), then the
// caller initializes or loads.
void declare_space(WeightStore& store, const SearchSpace& space);

// One prepared op of the network, in execution order.
struct LayerInfo {
  // "stem" (patch_embed) or "stem.convs.{i}" + "stem.norm"; "stages.{s}.downsample" (or its
  // ".norm" and ".proj" when composed); "stages.{s}.blocks.{b}.{u}.norm" / ".mixer" / ".mlp" /
  // ".residual"; "head.norm", "head.pool", "head.fc1", "head.hidden_norm", "head.fc".
  std::string name;
  std::string kind;  // "stem", "downsample", "norm", "mixer", "mlp", "residual", "head"
  std::string key;   // the op's canonical key, e.g. "window_attention:n=1,h=14,w=14,c=384,..."
  OpCost cost;       // FLOPs (multiply-add = 2), minimum bytes, params
};

// Params and FLOPs of an Arch at a resolution without building it (the sum over its layers; the
// numbers the catalog test compares with the published ones). macs = flops / 2.
struct ArchCost {
  double params = 0;
  double flops = 0;
  std::vector<LayerInfo> layers;
};
ArchCost arch_cost(const Arch& arch, std::int64_t resolution, std::int64_t batch = 1);

// Sees the rectified units of a network during Subnet::forward (activation-pattern proxies such as
// NASWOT; docs/arch.md "Observing activations"). Called on the forward's thread, in execution
// order, with the layer's index in layers(), its LayerInfo and `activation` [batch, ...] (batch
// first, contiguous f32), whose elements are > 0 exactly where a unit's pre-activation is > 0:
//   - kind "mlp": the MLP's hidden units, [batch, h, w, hidden] (MlpPlan::run_observed: act(fc1 x)
//     for gelu_erf / relu / hardswish, fc1 x for star_relu, the gate half for glu_mlp);
//   - any other layer whose output ends in a sign-keeping rectifier (relu, gelu, silu, hardswish):
//     that output (the activated convs of a composed stem, of the SE patch merging, and head.fc1
//     with an activation).
// Nonlinearities inside a mixer (focal modulation's GELU, attention's softmax) are not observed.
// The view aliases the subnet's or a plan's scratch: valid only during the call.
using ActivationObserver =
    std::function<void(std::size_t layer, const LayerInfo& info, ConstTensorView activation)>;

class Subnet {
 public:
  // Validates the arch at this resolution (validate_arch), slices or gathers every weight from the
  // store (which must hold each name at a shape the arch fits in: InvalidArgument naming the
  // weight otherwise), creates every plan and buffer. Throws InvalidArgument / Unsupported.
  static Subnet build(const Engine& engine, const Arch& arch, const WeightStore& store,
                      const SubnetConfig& config);

  // images [batch, resolution, resolution, in_chans] NHWC f32 contiguous -> logits
  // [batch, num_classes]. Computes only; not safe to call concurrently on one Subnet.
  void forward(ConstTensorView images, TensorView logits) const;
  // forward that also shows `observer` every rectified activation (ActivationObserver); the logits
  // are the same as forward's. forward without an observer does none of this work.
  void forward(ConstTensorView images, TensorView logits, const ActivationObserver& observer) const;

  const std::vector<LayerInfo>& layers() const;
  // Runs layer i alone on its input buffer as the last forward left it (for per-layer timing;
  // call forward once first). The first and last layers read the images / write the logits the
  // last forward was given, which must still be alive.
  void run_layer(std::size_t i) const;

  const SubnetConfig& config() const;
  Shape input_shape() const;   // [batch, resolution, resolution, in_chans]
  Shape output_shape() const;  // [batch, num_classes]
  double params() const;
  double flops() const;

  Subnet(Subnet&&) noexcept;
  Subnet& operator=(Subnet&&) noexcept;
  ~Subnet();

 private:
  struct State;
  explicit Subnet(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
