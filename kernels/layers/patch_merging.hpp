// patch_merging: Swin's downsampling between stages (torchvision's PatchMerging).
//
//   x is padded with zeros at the bottom / right to even h, w (F.pad(x, (0, 0, 0, w % 2, 0, h %
//   2))) t = cat(x[2i, 2j], x[2i+1, 2j], x[2i, 2j+1], x[2i+1, 2j+1])   torchvision's x0, x1, x2, x3
//   y[i, j] = reduction(LayerNorm(4c)(t))                        Linear 4c -> 2c, no bias
//
// src [n, h, w, c] -> dst [n, ceil(h/2), ceil(w/2), 2c], NHWC contiguous. LayerNorm eps 1e-5
// (nn.LayerNorm's default, torchvision's Swin). Padded pixels enter the LayerNorm as zeros.
//
// Weights (torchvision names): norm.weight [4c], norm.bias [4c], reduction.weight [2c, 4c].
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/layers/layer.hpp"

namespace hwnas {

struct PatchMergingDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  friend bool operator==(const PatchMergingDesc&, const PatchMergingDesc&) = default;
};

inline constexpr double kPatchMergingEps = 1e-5;

std::span<const ParamSpec> patch_merging_params();    // n, h, w, c
std::string to_string(const PatchMergingDesc& desc);  // "patch_merging:n=1,h=56,w=56,c=96"
PatchMergingDesc patch_merging_desc_from(const Params& params);  // calls check
void check(const PatchMergingDesc& desc);  // throws InvalidArgument naming the field (sizes < 1)
// FLOPs: 2 * T' * 4c * 2c, T' = n*ceil(h/2)*ceil(w/2); the LayerNorm is not counted. bytes: src +
// dst + weights.
OpCost cost(const PatchMergingDesc& desc);
std::vector<WeightSpec> weight_specs(const PatchMergingDesc& desc);
Shape src_shape(const PatchMergingDesc& desc);  // [n, h, w, c]
Shape dst_shape(const PatchMergingDesc& desc);  // [n, ceil(h/2), ceil(w/2), 2c]

class PatchMergingPlan final : public LayerPlan {
 public:
  // check_weights first; copies them, creates the LayerNorm and Linear plans and the gather buffer.
  static PatchMergingPlan create(const Engine& engine, const PatchMergingDesc& desc,
                                 const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  PatchMergingPlan(PatchMergingPlan&&) noexcept;
  PatchMergingPlan& operator=(PatchMergingPlan&&) noexcept;
  ~PatchMergingPlan() override;

 private:
  struct State;
  explicit PatchMergingPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

LayerEntry patch_merging_layer_entry();

}  // namespace hwnas
