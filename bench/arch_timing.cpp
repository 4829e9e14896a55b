#include "bench/arch_timing.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <random>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "supernet/weight_store.hpp"

namespace hwnas {

std::string arch_measurement_key(std::string_view hash, std::int64_t batch,
                                 std::int64_t resolution) {
  return fmt::format("arch:{},batch={},res={}", hash, batch, resolution);
}

namespace {

WeightStore weights_for(const Arch& arch, const ArchBenchOptions& options) {
  if (options.weights_path.empty())
    return make_weight_store(arch, options.resolution, options.seed);
  WeightStore store;
  for (const auto& [name, spec] : arch_weight_specs(arch, options.resolution))
    store.declare(name, spec);
  try {
    store.load(options.weights_path);  // every weight of the arch, at its exact shape
  } catch (const IoError& e) {
    throw InvalidArgument(e.what());  // a weights file that cannot be read is the user's input too
  }
  return store;
}

}  // namespace

PreparedArch prepare_arch(const Engine& engine, const Arch& arch, const ArchBenchOptions& options) {
  if (options.batch < 1) throw InvalidArgument(fmt::format("batch={} must be >= 1", options.batch));
  if (options.resolution < 1) {
    throw InvalidArgument(fmt::format("res={} must be >= 1", options.resolution));
  }
  validate_arch(arch, options.resolution);
  const WeightStore store = weights_for(arch, options);
  PreparedArch p(arch, Subnet::build(engine, arch, store,
                                     {.batch = options.batch, .resolution = options.resolution}));
  p.hash = arch_hash(arch);
  p.key = arch_measurement_key(p.hash, options.batch, options.resolution);
  p.options = options;
  p.images = Tensor::empty(p.net.input_shape());
  p.logits = Tensor::empty(p.net.output_shape());
  // Images, not zeros: a zero input would let norms and attention run on degenerate values.
  std::mt19937_64 rng(options.seed ^ 0x696d61676573ULL);  // "images": not the weights' stream
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  float* x = p.images.f32();
  for (std::int64_t i = 0; i < p.images.numel(); ++i) x[i] = uniform(rng);
  p.params = p.net.params();
  p.flops = p.net.flops();
  for (const LayerInfo& layer : p.net.layers()) p.bytes += layer.cost.bytes;
  return p;
}

namespace {

ProgressCallback progress_of(const ArchProgress& progress, std::string_view what, std::size_t index,
                             std::size_t count) {
  if (!progress) return {};
  return [&progress, what, index, count](const MeasureProgress& m) {
    progress(what, index, count, m);
  };
}

}  // namespace

ArchTiming time_arch(PreparedArch& p, const MeasurePolicy& policy, LayerTimes layers,
                     const ArchProgress& progress) {
  const std::size_t count = layers == LayerTimes::Each ? p.net.layers().size() + 1 : 1;
  const ConstTensorView images = p.images.cview();
  const TensorView logits = p.logits.view();
  ArchTiming t{.measurement = measure([&] { p.net.forward(images, logits); }, policy,
                                      progress_of(progress, "forward", 0, count))};
  if (layers == LayerTimes::None) return t;
  std::vector<std::size_t> all(p.net.layers().size());
  for (std::size_t i = 0; i < all.size(); ++i) all[i] = i;
  t.layers = time_layers(p, policy, all, progress);
  return t;
}

std::vector<LayerTiming> time_layers(PreparedArch& p, const MeasurePolicy& policy,
                                     std::span<const std::size_t> indices,
                                     const ArchProgress& progress) {
  const std::vector<LayerInfo>& infos = p.net.layers();
  HWNAS_ASSERT(std::ranges::all_of(indices, [&](std::size_t i) { return i < infos.size(); }));
  // Every buffer as a whole forward leaves it: each layer then reads inputs of the right scale.
  p.net.forward(p.images.cview(), p.logits.view());
  std::vector<LayerTiming> timed;
  double sum_ms = 0;
  for (std::size_t j = 0; j < indices.size(); ++j) {
    const std::size_t i = indices[j];
    LayerTiming layer{
        .info = infos[i],
        .measurement = measure([&] { p.net.run_layer(i); }, policy,
                               progress_of(progress, infos[i].name, j + 1, indices.size() + 1))};
    sum_ms += layer.measurement.stats.median.count();
    timed.push_back(std::move(layer));
  }
  for (LayerTiming& layer : timed) {
    layer.share = sum_ms > 0 ? layer.measurement.stats.median.count() / sum_ms : 0;
  }
  return timed;
}

}  // namespace hwnas
