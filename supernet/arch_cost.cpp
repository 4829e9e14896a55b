#include "supernet/net_graph.hpp"
#include "supernet/subnet.hpp"

namespace hwnas {

namespace net {

std::vector<LayerInfo> layer_infos(const NetGraph& graph) {
  std::vector<LayerInfo> layers;
  layers.reserve(graph.ops.size());
  for (const NetOp& op : graph.ops) {
    layers.push_back({.name = op.name, .kind = op.kind, .key = op.key, .cost = op.cost});
  }
  return layers;
}

}  // namespace net

ArchCost arch_cost(const Arch& arch, std::int64_t resolution, std::int64_t batch) {
  ArchCost out;
  out.layers = net::layer_infos(net::describe_arch(arch, resolution, batch));
  for (const LayerInfo& layer : out.layers) {
    out.params += static_cast<double>(layer.cost.params);
    out.flops += layer.cost.flops;
  }
  return out;
}

}  // namespace hwnas
