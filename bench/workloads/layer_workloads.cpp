// Workloads of the layers around the mixers (kernels/layers/): one OpEntry per registered layer,
// under its own name and parameters. Random input in [-1, 1] and random weights drawn as each
// WeightSpec's kind says; the plan is created here, so timing runs the plan alone.
//
// The MLPs also take residual_impl=fused|separate: fused (what a model gets) applies the layer
// scale and residual add in fc2's output pass; separate runs them as two binary ops after fc2, so
// the two can be compared interleaved (bench/compare.py --vs). The key then carries
// ",residual_impl=separate".
#include <memory>

#include "bench/workloads/workload_util.hpp"
#include "bench/workloads/workloads.hpp"
#include "kernels/layers/layer.hpp"
#include "kernels/layers/mlp.hpp"

namespace hwnas {
namespace {

struct LayerResources {
  Tensor src, dst;
  RandomWeights weights;
  std::unique_ptr<LayerPlan> plan;
};

bool is_mlp(std::string_view name) {
  return name == "mlp" || name == "conv_ffn" || name == "glu_mlp";
}

MlpKind mlp_kind(std::string_view name) {
  return name == "mlp" ? MlpKind::Mlp : name == "conv_ffn" ? MlpKind::ConvFfn : MlpKind::GluMlp;
}

std::span<const ParamSpec> mlp_bench_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s(mlp_params().begin(), mlp_params().end());
    s.push_back({.name = "residual_impl",
                 .default_value = "fused",
                 .choices = {"fused", "separate"},
                 .help = "residual in fc2's output pass, or as separate binary ops"});
    return s;
  }();
  return kSpecs;
}

// The layer's canonical key; an MLP timed with separate residual ops says so.
std::string layer_key(const LayerEntry& layer, const Params& params) {
  std::string key = layer.check(params);
  if (is_mlp(layer.name) && params.word("residual_impl") == "separate")
    key += ",residual_impl=separate";
  return key;
}

Workload layer_workload(const LayerEntry& layer, const Engine& engine, const Params& params,
                        std::uint64_t seed) {
  std::string key = layer_key(layer, params);
  const OpCost cost = layer.cost(params);
  std::mt19937_64 rng(seed);
  auto r = std::make_shared<LayerResources>();
  r->src = random_tensor(layer.src_shape(params), rng);
  r->dst = Tensor::empty(layer.dst_shape(params));
  r->weights = make_random_weights(layer.weights(params), rng);
  if (is_mlp(layer.name)) {
    const bool separate = params.word("residual_impl") == "separate";
    const MlpDesc d = mlp_desc_from(mlp_kind(layer.name), params);
    r->plan = std::make_unique<MlpPlan>(
        MlpPlan::create(engine, d, r->weights.views,
                        {.fusion = separate ? ResidualFusion::Separate : ResidualFusion::PostOp}));
  } else {
    r->plan = layer.create(engine, params, r->weights.views);
  }
  return Workload{.key = std::move(key),
                  .cost = cost,
                  .impl = std::string(r->plan->impl_name()),
                  .working_set_bytes = cost.bytes,
                  .run = [p = r.get()] { p->plan->run(p->src.cview(), p->dst.view()); },
                  .resources = r};
}

}  // namespace

std::vector<OpEntry> layer_op_entries() {
  std::vector<OpEntry> entries;
  for (const LayerEntry& layer : layer_registry()) {
    entries.push_back({layer.name, layer.summary,
                       is_mlp(layer.name) ? mlp_bench_params() : layer.params,
                       [&layer](const Engine& engine, const Params& params, std::uint64_t seed) {
                         return layer_workload(layer, engine, params, seed);
                       },
                       [&layer](const Params& params) { return layer_key(layer, params); }});
  }
  return entries;
}

}  // namespace hwnas
