// inception_dwconv: InceptionNeXt's token mixer (Yu et al., "InceptionNeXt: When Inception Meets
// ConvNeXt", CVPR 2024; official inceptionnext.py InceptionDWConv2d). The channels split, in this
// order, into
//
//   [0, c - 3*gc)          identity (passed through)
//   next gc                dwconv_hw: depthwise square_kernel x square_kernel
//   next gc                dwconv_w:  depthwise 1 x band_kernel
//   next gc                dwconv_h:  depthwise band_kernel x 1
//
// with gc = int(c * branch_ratio) (truncated, as the official code) and 'same' padding (k // 2);
// each conv has a bias (nn.Conv2d's default). The outputs concatenate in the same order.
//
// Weights (PyTorch names and layouts): dwconv_hw.weight [gc, 1, ks, ks], dwconv_hw.bias [gc],
// dwconv_w.weight [gc, 1, 1, kb], dwconv_w.bias [gc], dwconv_h.weight [gc, 1, kb, 1],
// dwconv_h.bias [gc]. FLOPs 2*n*h*w*gc*(ks^2 + 2*kb); bytes src + dst + weights, f32, each once;
// params gc*(ks^2 + 2*kb + 3).
//
// Layouts: src and dst NHWC [n, h, w, c], contiguous. On AVX-512 CPUs each branch runs the hand
// depthwise kernel directly on its channel slice of src and dst (no split or concat copies);
// elsewhere a branch gathers its slice, runs Conv2dPlan and scatters the result.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/engine.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"

namespace hwnas {

struct InceptionDwconvDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t square_kernel = 3;  // odd
  std::int64_t band_kernel = 11;   // odd
  double branch_ratio = 0.125;     // gc = int(c * branch_ratio) channels per conv branch
  friend bool operator==(const InceptionDwconvDesc&, const InceptionDwconvDesc&) = default;
};

std::span<const ParamSpec> inception_dwconv_params();
// "inception_dwconv:n=1,h=56,w=56,c=96,square_kernel=3,band_kernel=11,branch_ratio=0.125"
std::string to_string(const InceptionDwconvDesc& desc);
InceptionDwconvDesc inception_dwconv_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, even kernels, a
// branch_ratio that gives gc < 1 or more than c / 3 conv channels per branch.
void check(const InceptionDwconvDesc& desc);
OpCost cost(const InceptionDwconvDesc& desc);
std::vector<WeightSpec> weight_specs(const InceptionDwconvDesc& desc);
std::int64_t inception_branch_channels(const InceptionDwconvDesc& desc);  // gc

class InceptionDwconvPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights, prepares the three depthwise convs. Throws InvalidArgument or
  // Unsupported.
  static InceptionDwconvPlan create(const Engine& engine, const InceptionDwconvDesc& desc,
                                    const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  InceptionDwconvPlan(InceptionDwconvPlan&&) noexcept;
  InceptionDwconvPlan& operator=(InceptionDwconvPlan&&) noexcept;
  ~InceptionDwconvPlan() override;

 private:
  struct State;
  explicit InceptionDwconvPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
