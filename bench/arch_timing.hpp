// Timing a whole Arch: `hwnas bench`, and the search's latency evaluators (measured end to end,
// and the lookup table's per-layer entries).
//
//   PreparedArch net = prepare_arch(engine, arch, {.batch = 1, .resolution = 224, .seed = 1});
//   ArchTiming t = time_arch(net, policy, LayerTimes::Each);  // prepare_arch is not timed
//
// Preparing validates the arch at the resolution, makes its weights (random from the seed, or a
// safetensors file) and builds the Subnet; everything that can refuse the input refuses it here,
// before anything is timed or stored. Timing runs the timing protocol (bench/measure.hpp) on
// Subnet::forward, then, for a per-layer breakdown, on each layer alone (Subnet::run_layer) after
// that forward, so each layer reads inputs of the right shape and scale.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "bench/measure.hpp"
#include "kernels/engine.hpp"
#include "kernels/tensor.hpp"
#include "supernet/arch.hpp"
#include "supernet/subnet.hpp"

namespace hwnas {

struct ArchBenchOptions {
  std::int64_t batch = 1;
  std::int64_t resolution = 224;
  std::uint64_t seed = 1;    // of the random weights and the random images
  std::string weights_path;  // a safetensors file with exactly the arch's weights; empty = random
};

// The store key of an Arch measurement: "arch:<hash>,batch=B,res=R". With device, threads and dtype
// it is the cache key of a measured latency (MeasurementLookup).
std::string arch_measurement_key(std::string_view hash, std::int64_t batch,
                                 std::int64_t resolution);

struct PreparedArch {
  Arch arch;
  std::string hash;
  std::string key;
  ArchBenchOptions options;
  Subnet net;
  Tensor images;  // random in [-1, 1], [batch, res, res, in_chans]
  Tensor logits;
  double params = 0, flops = 0, bytes = 0;  // flops and bytes: one forward of the batch

  PreparedArch(Arch a, Subnet n) : arch(std::move(a)), net(std::move(n)) {}
};

// Throws InvalidArgument naming the value: batch or resolution < 1, an op the arch cannot build at
// this resolution (a window that cannot tile, heads not dividing a width, ...), a weights file that
// lacks a weight or holds one of another shape; IoError for an unreadable weights file.
PreparedArch prepare_arch(const Engine& engine, const Arch& arch, const ArchBenchOptions& options);

enum class LayerTimes { None, Each };

struct LayerTiming {
  LayerInfo info;
  Measurement measurement;
  double share = 0;  // median / the sum of every layer's median
};

struct ArchTiming {
  Measurement measurement;          // of forward
  std::vector<LayerTiming> layers;  // LayerTimes::Each only, in execution order
};

// what: "forward" or the layer's name; called with the protocol's progress of that measurement.
using ArchProgress = std::function<void(std::string_view what, std::size_t index, std::size_t count,
                                        const MeasureProgress& progress)>;

ArchTiming time_arch(PreparedArch& net, const MeasurePolicy& policy, LayerTimes layers,
                     const ArchProgress& progress = {});

// Times the layers at `indices` (positions in net.net.layers(), each < its size) alone, in the
// order given, after one untimed forward; share is of the sum over these layers. progress is called
// with index = the position in `indices` + 1 and count = indices.size() + 1, as time_arch counts.
std::vector<LayerTiming> time_layers(PreparedArch& net, const MeasurePolicy& policy,
                                     std::span<const std::size_t> indices,
                                     const ArchProgress& progress = {});

}  // namespace hwnas
