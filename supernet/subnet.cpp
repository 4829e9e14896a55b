// Subnet: the described network (net_graph.hpp) with every op prepared and every value given a
// buffer (assign_buffers: about three maps of the largest stage; each plan's own scratch, such as
// an MLP's hidden map or attention tiles, comes on top). The images and the logits are the
// caller's.
#include "supernet/subnet.hpp"

#include <fmt/format.h>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "supernet/net_graph.hpp"

namespace hwnas {

struct Subnet::State {
  SubnetConfig config;
  Shape input, output;
  std::vector<LayerInfo> layers;
  std::vector<std::unique_ptr<net::Step>> steps;
  std::vector<net::NetOp> ops;  // in, residual and out of each step (factories dropped)
  std::vector<Shape> values;
  std::vector<int> buffer_of;
  mutable std::vector<Tensor> buffers;  // written by the const forward: "computes only"
  double params = 0, flops = 0;
  // The caller's tensors of the last forward, for run_layer.
  mutable ConstTensorView images;
  mutable TensorView logits;

  ConstTensorView read(int v) const {
    if (v == 0) return images;
    if (v == ops.back().out) return logits;
    return ConstTensorView(
        buffers[static_cast<std::size_t>(buffer_of[static_cast<std::size_t>(v)])].f32(),
        values[static_cast<std::size_t>(v)]);
  }
  TensorView write(int v) const {
    if (v == ops.back().out) return logits;
    HWNAS_ASSERT(v != 0);
    return TensorView(
        buffers[static_cast<std::size_t>(buffer_of[static_cast<std::size_t>(v)])].f32(),
        values[static_cast<std::size_t>(v)]);
  }
  void run(std::size_t i) const {
    const net::NetOp& op = ops[i];
    steps[i]->run(read(op.in), op.residual >= 0 ? read(op.residual) : ConstTensorView{},
                  write(op.out));
  }
};

Subnet::Subnet(std::unique_ptr<State> state) : state_(std::move(state)) {}
Subnet::Subnet(Subnet&&) noexcept = default;
Subnet& Subnet::operator=(Subnet&&) noexcept = default;
Subnet::~Subnet() = default;

Subnet Subnet::build(const Engine& engine, const Arch& arch, const WeightStore& store,
                     const SubnetConfig& config) {
  validate_arch(arch, config.resolution);
  net::NetGraph graph = net::describe_arch(arch, config.resolution, config.batch);
  auto s = std::make_unique<State>();
  s->config = config;
  s->input = graph.values.front();
  s->output = graph.values[static_cast<std::size_t>(graph.ops.back().out)];
  s->layers = net::layer_infos(graph);
  for (const LayerInfo& layer : s->layers) {
    s->params += static_cast<double>(layer.cost.params);
    s->flops += layer.cost.flops;
  }
  for (net::NetOp& op : graph.ops) {
    net::with_path(op.name, [&] {
      std::vector<Tensor> gathered;  // alive until the plan has copied them
      gathered.reserve(op.weights.size());
      MixerWeights weights;
      for (const net::WeightUse& w : op.weights) {
        if (!store.has(w.store_name)) {
          throw InvalidArgument(fmt::format("weight '{}' is not in the store", w.store_name));
        }
        if (store.is_view(w.store_name, w.spec)) {
          weights.set(w.spec.name, store.view(w.store_name, w.spec));
        } else {
          gathered.push_back(store.gather(w.store_name, w.spec));
          weights.set(w.spec.name, gathered.back().cview());
        }
      }
      s->steps.push_back(op.create(engine, weights));
    });
    op.create = nullptr;
  }
  const net::BufferPlan buffers = net::assign_buffers(graph);
  s->buffer_of = buffers.buffer_of;
  for (const std::int64_t n : buffers.capacity) s->buffers.push_back(Tensor::empty({n}));
  s->values = std::move(graph.values);
  s->ops = std::move(graph.ops);
  return Subnet(std::move(s));
}

void Subnet::forward(ConstTensorView images, TensorView logits) const {
  const State& s = *state_;
  HWNAS_ASSERT(images.dtype() == DType::F32 && images.is_contiguous() && images.shape() == s.input);
  HWNAS_ASSERT(logits.dtype() == DType::F32 && logits.is_contiguous() &&
               logits.shape() == s.output);
  s.images = images;
  s.logits = logits;
  for (std::size_t i = 0; i < s.steps.size(); ++i) s.run(i);
}

void Subnet::forward(ConstTensorView images, TensorView logits,
                     const ActivationObserver& observer) const {
  const State& s = *state_;
  HWNAS_ASSERT(images.dtype() == DType::F32 && images.is_contiguous() && images.shape() == s.input);
  HWNAS_ASSERT(logits.dtype() == DType::F32 && logits.is_contiguous() &&
               logits.shape() == s.output);
  s.images = images;
  s.logits = logits;
  for (std::size_t i = 0; i < s.steps.size(); ++i) {
    const net::NetOp& op = s.ops[i];
    const LayerInfo& info = s.layers[i];
    switch (op.observed) {
      case net::Observed::Hidden:
        s.steps[i]->run_observed(
            s.read(op.in), op.residual >= 0 ? s.read(op.residual) : ConstTensorView{},
            s.write(op.out), [&](ConstTensorView hidden) { observer(i, info, hidden); });
        break;
      case net::Observed::Output:
        s.run(i);
        observer(i, info, s.read(op.out));
        break;
      case net::Observed::None:
        s.run(i);
        break;
    }
  }
}

const std::vector<LayerInfo>& Subnet::layers() const { return state_->layers; }

void Subnet::run_layer(std::size_t i) const {
  HWNAS_ASSERT(i < state_->steps.size() && !state_->images.empty());
  state_->run(i);
}

const SubnetConfig& Subnet::config() const { return state_->config; }
Shape Subnet::input_shape() const { return state_->input; }
Shape Subnet::output_shape() const { return state_->output; }
double Subnet::params() const { return state_->params; }
double Subnet::flops() const { return state_->flops; }

}  // namespace hwnas
