#pragma once

#include "kernels/mixers/cswin_attention.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// Where LePE's 3x3 conv looks for neighbours: inside the token's own window with zeros beyond its
// border (CSWin's get_lepe, the definition), or anywhere in the branch's (padded) map. WholeMap
// exists only so a test can show that the mixer's LePE is really windowed.
enum class LepeScope { Window, WholeMap };

// cswin_attention in float64 from the definition (cswin_attention.hpp): zero-pad the map, qkv over
// every padded token, per branch/window/head softmax(q k^T / sqrt(d)) v + LePE, crop, proj.
// src [n, h, w, c] f32 of any strides; weights as weight_specs(desc). Returns [n, h, w, c];
// magnitude is proj's sum |w*a| + |b|.
RefOutput cswin_attention(const CswinAttentionDesc& desc, const ConstTensorView& src,
                          const MixerWeights& weights, LepeScope lepe = LepeScope::Window);

}  // namespace hwnas::reference
