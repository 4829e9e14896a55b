// The weights of an Arch and of a search space, from the same walk that builds a Subnet
// (net_graph.hpp), so the names and shapes a store declares are the ones a subnet asks for.
#include <fmt/format.h>

#include <algorithm>

#include "kernels/error.hpp"
#include "supernet/net_graph.hpp"
#include "supernet/subnet.hpp"

namespace hwnas {

std::vector<std::pair<std::string, WeightSpec>> arch_weight_specs(const Arch& arch,
                                                                  std::int64_t resolution) {
  const net::NetGraph graph = net::describe_arch(arch, resolution, 1);
  std::vector<std::pair<std::string, WeightSpec>> out;
  for (const net::NetOp& op : graph.ops) {
    for (const net::WeightUse& w : op.weights) out.emplace_back(w.store_name, w.spec);
  }
  return out;
}

WeightStore make_weight_store(const Arch& arch, std::int64_t resolution, std::uint64_t seed) {
  WeightStore store;
  for (const auto& [name, spec] : arch_weight_specs(arch, resolution)) store.declare(name, spec);
  store.initialize(seed);
  return store;
}

namespace {

void declare_ops(WeightStore& store, const net::NetGraph& graph) {
  for (const net::NetOp& op : graph.ops) {
    for (const net::WeightUse& w : op.weights) store.declare(w.store_name, w.spec);
  }
}

// Runs `add` on a fresh builder whose input is `shape` and declares what it adds.
template <typename F>
net::Nhwc declare_piece(WeightStore& store, const Shape& shape, F add) {
  net::GraphBuilder builder(shape);
  add(builder);
  const Shape out = builder.shape(builder.current());
  declare_ops(store, std::move(builder).finish());
  return net::nhwc_of(out);
}

}  // namespace

void declare_space(WeightStore& store, const SearchSpace& space) {
  if (space.stages.empty() || space.stems.empty() || space.resolutions.empty()) {
    throw InvalidArgument(fmt::format(
        "{}: a space needs stages, stems and resolutions to declare its weights", space.name));
  }
  for (std::size_t s = 0; s < space.stages.size(); ++s) {
    const StageChoices& stage = space.stages[s];
    if (stage.depths.empty() || stage.widths.empty() || stage.mlp_ratios.empty()) {
      throw InvalidArgument(fmt::format(
          "{}: stages[{}]: depths, widths and mlp_ratios must be non-empty", space.name, s));
    }
  }
  const std::size_t last = space.stages.size() - 1;
  for (const std::int64_t resolution : space.resolutions) {
    for (std::size_t st = 0; st < space.stems.size(); ++st) {
      // Spatial size per stage: the stem's and downsamples' arithmetic, which no width changes.
      std::vector<net::Nhwc> at(space.stages.size());
      for (const std::int64_t w0 : space.stages[0].widths) {
        StemSpec stem = space.stems[st];
        if (stem.convs.empty()) throw InvalidArgument(fmt::format("stems[{}]: no convs", st));
        stem.convs.back().out = w0;
        net::with_path(fmt::format("{}: stems[{}]", space.name, st), [&] {
          at[0] = declare_piece(store, {1, resolution, resolution, space.in_chans},
                                [&](net::GraphBuilder& b) { net::add_stem(b, stem); });
        });
      }
      for (std::size_t s = 0; s < space.stages.size(); ++s) {
        const StageChoices& stage = space.stages[s];
        const std::string path = fmt::format("{}: stages[{}]", space.name, s);
        if (s > 0) {
          if (!stage.downsample) throw InvalidArgument(fmt::format("{}: no downsample", path));
          for (const std::int64_t prev : space.stages[s - 1].widths) {
            for (const std::int64_t width : stage.widths) {
              net::with_path(path + ".downsample", [&] {
                at[s] = declare_piece(store, {1, at[s - 1].h, at[s - 1].w, prev},
                                      [&](net::GraphBuilder& b) {
                                        net::add_downsample(b, s, *stage.downsample, width);
                                      });
              });
            }
          }
        }
        const std::int64_t depth = *std::max_element(stage.depths.begin(), stage.depths.end());
        for (const std::int64_t width : stage.widths) {
          const std::vector<MixerSpec> mixers = mixer_options(space, s, width);
          if (mixers.empty()) continue;  // no subnet can take this width here
          // Norms and MLPs depend on the ratio, mixers on themselves: each ratio with the first
          // mixer, then each mixer with the first ratio, declares the union.
          std::vector<BlockSpec> blocks;
          for (const double ratio : stage.mlp_ratios)
            blocks.push_back(make_block(space, mixers[0], ratio));
          for (std::size_t m = 1; m < mixers.size(); ++m) {
            blocks.push_back(make_block(space, mixers[m], stage.mlp_ratios.front()));
          }
          for (std::int64_t b = 0; b < depth; ++b) {
            for (const BlockSpec& block : blocks) {
              net::with_path(fmt::format("{}.blocks[{}] width={}", path, b, width), [&] {
                declare_piece(store, {1, at[s].h, at[s].w, width}, [&](net::GraphBuilder& g) {
                  net::add_block(g, s, static_cast<std::size_t>(b), block);
                });
              });
            }
          }
        }
      }
      for (const std::int64_t width : space.stages[last].widths) {
        net::with_path(fmt::format("{}: head", space.name), [&] {
          declare_piece(store, {1, at[last].h, at[last].w, width},
                        [&](net::GraphBuilder& b) { net::add_head(b, space.head); });
        });
      }
    }
  }
}

}  // namespace hwnas
