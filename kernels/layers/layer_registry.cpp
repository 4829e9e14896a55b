#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "kernels/error.hpp"
#include "kernels/layers/conv_downsample.hpp"
#include "kernels/layers/layer.hpp"
#include "kernels/layers/mlp.hpp"
#include "kernels/layers/patch_merging.hpp"
#include "kernels/layers/stem.hpp"

namespace hwnas {

std::span<const LayerEntry> layer_registry() {
  static const std::vector<LayerEntry> kEntries = {
      mlp_layer_entry(),           conv_ffn_layer_entry(),        glu_mlp_layer_entry(),
      patch_merging_layer_entry(), conv_downsample_layer_entry(), patch_embed_layer_entry(),
      conv_stem_layer_entry(),
  };
  return kEntries;
}

const LayerEntry& find_layer(std::string_view name) {
  const auto entries = layer_registry();
  const auto it = std::find_if(entries.begin(), entries.end(),
                               [&](const LayerEntry& e) { return e.name == name; });
  if (it == entries.end()) {
    std::vector<std::string_view> names;
    for (const LayerEntry& e : entries) names.push_back(e.name);
    throw InvalidArgument(
        fmt::format("unknown layer '{}'; known layers: {}", name, fmt::join(names, ", ")));
  }
  return *it;
}

}  // namespace hwnas
