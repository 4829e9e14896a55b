// One factory per mixer, each defined in its own kernels/mixers/<name>.cpp; mixer_registry.cpp
// lists them in the order `hwnas bench-op --list` prints.
#pragma once

#include "kernels/mixers/mixer_registry.hpp"

namespace hwnas {

MixerEntry mhsa_entry();
MixerEntry window_attention_entry();
MixerEntry cswin_attention_entry();
MixerEntry neighborhood_attention_entry();
MixerEntry linear_attention_entry();
MixerEntry single_head_attention_entry();
MixerEntry cascaded_group_attention_entry();
MixerEntry channel_attention_entry();
MixerEntry dwconv_mixer_entry();
MixerEntry sepconv_entry();
MixerEntry inception_dwconv_entry();
MixerEntry partial_conv_entry();
MixerEntry pool_mixer_entry();
MixerEntry focal_modulation_entry();
MixerEntry gnconv_entry();
MixerEntry identity_entry();
MixerEntry random_mixing_entry();

}  // namespace hwnas
