#pragma once

#include "kernels/layers/mlp.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/reference/ref_output.hpp"

namespace hwnas::reference {

// The three MLP variants in float64 straight from their definitions (layers/mlp.hpp): src NHWC
// [n, h, w, c], weights by name (any strides); residual as src's shape, or empty to use src (the
// generic run). magnitude = sum_i |fc2.weight[o, i] * a[i]| + |fc2.bias[o]|, times |gamma[o]| with
// layer_scale, plus |residual|.
RefOutput mlp(const MlpDesc& desc, const ConstTensorView& src, const MixerWeights& weights,
              const ConstTensorView& residual);
RefOutput mlp(const MlpDesc& desc, const ConstTensorView& src, const MixerWeights& weights);

}  // namespace hwnas::reference
