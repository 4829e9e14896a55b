// Workloads of the token mixers (kernels/mixers/): one OpEntry per registered mixer, under the
// mixer's own name and parameters. Random input in [-1, 1] and random weights drawn as each
// WeightSpec's kind says; the plan is created here, so timing runs the plan alone.
#include <memory>

#include "bench/workloads/workload_util.hpp"
#include "bench/workloads/workloads.hpp"
#include "kernels/mixers/mixer_registry.hpp"

namespace hwnas {
namespace {

struct MixerResources {
  Tensor src, dst;
  RandomWeights weights;
  std::unique_ptr<MixerPlan> plan;
};

Workload mixer_workload(const MixerEntry& mixer, const Engine& engine, const Params& params,
                        std::uint64_t seed) {
  std::string key = mixer.check(params);
  const OpCost cost = mixer.cost(params);
  const std::vector<WeightSpec> specs = mixer.weights(params);
  std::mt19937_64 rng(seed);
  auto r = std::make_shared<MixerResources>();
  const MixerShape shape = mixer_shape_from(params);
  r->src = random_tensor(shape.shape(), rng);
  r->dst = Tensor::empty(shape.shape());
  r->weights = make_random_weights(specs, rng);
  r->plan = mixer.create(engine, params, r->weights.views);
  return Workload{.key = std::move(key),
                  .cost = cost,
                  .impl = std::string(r->plan->impl_name()),
                  .working_set_bytes = cost.bytes,
                  .run = [p = r.get()] { p->plan->run(p->src.cview(), p->dst.view()); },
                  .resources = r};
}

}  // namespace

std::vector<OpEntry> mixer_op_entries() {
  std::vector<OpEntry> entries;
  for (const MixerEntry& mixer : mixer_registry()) {
    entries.push_back({mixer.name, mixer.summary, mixer.params,
                       [&mixer](const Engine& engine, const Params& params, std::uint64_t seed) {
                         return mixer_workload(mixer, engine, params, seed);
                       },
                       mixer.check});
  }
  return entries;
}

}  // namespace hwnas
