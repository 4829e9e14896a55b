#include "kernels/mixers/mixer_registry.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"

namespace hwnas {

std::span<const MixerEntry> mixer_registry() {
  static const std::vector<MixerEntry> kEntries = {
      mhsa_entry(),
      window_attention_entry(),
      cswin_attention_entry(),
      neighborhood_attention_entry(),
      linear_attention_entry(),
      single_head_attention_entry(),
      cascaded_group_attention_entry(),
      channel_attention_entry(),
      dwconv_mixer_entry(),
      sepconv_entry(),
      inception_dwconv_entry(),
      partial_conv_entry(),
      pool_mixer_entry(),
      focal_modulation_entry(),
      gnconv_entry(),
      identity_entry(),
      random_mixing_entry(),
  };
  return kEntries;
}

const MixerEntry& find_mixer(std::string_view name) {
  std::vector<std::string_view> names;
  for (const MixerEntry& entry : mixer_registry()) {
    if (entry.name == name) return entry;
    names.push_back(entry.name);
  }
  throw InvalidArgument(
      fmt::format("unknown mixer '{}'; mixers: {}", name, fmt::join(names, ", ")));
}

}  // namespace hwnas
