// The network of an Arch as a list of ops, described without an engine (supernet-internal).
//
// One walk over the Arch (stem, downsamples, block units, head) gives every op its layer name,
// kind, canonical key, cost, the weights it takes (store names and specs at this arch), the values
// it reads and writes, and a factory that prepares it. arch_cost and arch_weight_specs read the
// description; Subnet::build calls the factories and assigns buffers to the values; declare_space
// walks single stems, downsamples, blocks and heads at every choice. Sharing the walk keeps names,
// shapes and costs the same in all four.
//
// Values are SSA: value 0 is the input images, each op writes one new value, the last op's value is
// the logits. An op reads `in` and, for a fused or separate residual, `residual`.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "kernels/activation.hpp"
#include "kernels/engine.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/tensor.hpp"
#include "supernet/arch.hpp"
#include "supernet/subnet.hpp"

namespace hwnas::net {

// A prepared op. run computes only; residual is empty unless the op reads one; dst may alias src
// or residual only where the op's NetOp says in_place.
class Step {
 public:
  virtual ~Step() = default;
  virtual void run(ConstTensorView src, ConstTensorView residual, TensorView dst) const = 0;
  // run that also shows `observe` the op's hidden rectified units (NetOp::observed == Hidden:
  // MlpPlan::run_observed's contract). Steps without hidden units just run.
  virtual void run_observed(ConstTensorView src, ConstTensorView residual, TensorView dst,
                            const std::function<void(ConstTensorView)>& observe) const {
    (void)observe;
    run(src, residual, dst);
  }
};

// A plan with run(src, dst) as a Step (Plan by value, or a unique_ptr to one).
template <typename Plan>
class PlanStep final : public Step {
 public:
  explicit PlanStep(Plan plan) : plan_(std::move(plan)) {}
  void run(ConstTensorView src, ConstTensorView, TensorView dst) const override {
    if constexpr (requires { plan_->run(src, dst); }) {
      plan_->run(src, dst);
    } else {
      plan_.run(src, dst);
    }
  }

 private:
  Plan plan_;
};

template <typename Plan>
std::unique_ptr<Step> make_step(Plan plan) {
  return std::make_unique<PlanStep<Plan>>(std::move(plan));
}

// Creates the Step from the op's weights, given by their module names (WeightUse::spec.name); the
// views may die when it returns.
using StepFactory =
    std::function<std::unique_ptr<Step>(const Engine& engine, const MixerWeights& weights)>;

// One weight an op takes.
struct WeightUse {
  std::string store_name;  // docs/arch.md "Weight names"
  WeightSpec spec;         // spec.name: the plan's name for it; spec.shape: at this arch
  bool buffer = false;     // BatchNorm running statistics: stored, but not a parameter
};

// What Subnet::forward with an observer shows of an op (subnet.hpp, ActivationObserver).
enum class Observed {
  None,
  Hidden,  // the hidden units inside the op (an MLP), through Step::run_observed
  Output,  // the op's output, which ends in a sign-keeping rectifier (keeps_sign)
};

// Whether act(x) > 0 exactly where x > 0, so an output after act gives the binary code of its
// units' pre-activations: relu, gelu_erf, gelu_tanh, silu, hardswish. Not sigmoid (always > 0),
// star_relu (its bias shifts the sign) or none.
bool keeps_sign(Activation act);

struct NetOp {
  std::string name;  // layer name, "stages.1.blocks.0.0.mixer"
  std::string kind;  // "stem", "downsample", "norm", "mixer", "mlp", "residual", "head"
  std::string key;   // canonical key of the op
  OpCost cost;
  std::vector<WeightUse> weights;
  int in = 0;
  int residual = -1;  // -1: none
  int out = 0;
  bool in_place = false;  // dst may be the buffer of `in` or `residual`
  Observed observed = Observed::None;
  StepFactory create;
};

struct NetGraph {
  std::vector<Shape> values;  // values[0]: the images [n, r, r, in_chans]
  std::vector<NetOp> ops;     // execution order; ops.back() writes the logits
};

// Appends ops to a graph; the walk functions below take one.
class GraphBuilder {
 public:
  explicit GraphBuilder(const Shape& input);

  int current() const { return current_; }
  const Shape& shape(int value) const { return graph_.values[static_cast<std::size_t>(value)]; }
  // Adds `op` reading op.in (and op.residual), writing a new value of `out_shape`, which becomes
  // current(). Throws InvalidArgument when one of its store names was already used by another op
  // (two norms in one unit would share a weight).
  int add(NetOp op, const Shape& out_shape);

  NetGraph finish() &&;

 private:
  NetGraph graph_;
  std::set<std::string, std::less<>> store_names_;
  int current_ = 0;
};

// Runs f; an InvalidArgument or Unsupported it throws is rethrown with "<path>: " in front, so an
// error from a kernel's check names where in the Arch it comes from.
void with_path(std::string_view path, const std::function<void()>& f);

// The pieces of the walk. Each reads builder.current() (NHWC [n, h, w, c]) and appends its ops.
void add_stem(GraphBuilder& builder, const StemSpec& stem);
void add_downsample(GraphBuilder& builder, std::size_t stage, const DownsampleSpec& spec,
                    std::int64_t width);
void add_block(GraphBuilder& builder, std::size_t stage, std::size_t block, const BlockSpec& spec);
void add_head(GraphBuilder& builder, const HeadSpec& head);

// A norm op named `name` with its weights under `prefix` (e.g. "head.norm."), on the current value
// viewed as [n, h, w, c] (a [n, c] value is [n, 1, 1, c]).
void add_norm(GraphBuilder& builder, const std::string& name, const std::string& prefix,
              const NormSpec& spec);

// The whole network at a square input of `resolution` and `batch` images.
NetGraph describe_arch(const Arch& arch, std::int64_t resolution, std::int64_t batch);

// Which buffer holds each value: values are assigned to reusable buffers by liveness, in execution
// order. An op's output takes the buffer of an input that dies at this op when the op may run in
// place (norms, the residual pass), else a buffer whose value died before this op (the smallest
// that fits, else the largest, grown), else a new one. A block then cycles through three buffers
// (x, norm(x), f(x) / the next x), so activations cost about three maps of the largest stage.
struct BufferPlan {
  std::vector<int> buffer_of;          // per value; -1 for the caller's images and logits
  std::vector<std::int64_t> capacity;  // elements of each buffer
};
BufferPlan assign_buffers(const NetGraph& graph);

// One LayerInfo per op, in order (Subnet::layers, arch_cost).
std::vector<LayerInfo> layer_infos(const NetGraph& graph);

// [n, h, w, c] of an activation value ([n, c] reads as [n, 1, 1, c]).
struct Nhwc {
  std::int64_t n = 1, h = 1, w = 1, c = 1;
};
Nhwc nhwc_of(const Shape& shape);

}  // namespace hwnas::net
