// identity: IdentityFormer's token mixer (Yu et al., "MetaFormer Baselines for Vision", TPAMI 2023;
// official metaformer.py, nn.Identity): dst = src. The baseline every other mixer is compared
// against: a block with it is x + mlp(norm(x)) plus a second residual of norm(x).
//
// No weights. FLOPs 0; bytes src + dst, f32, each once; params 0.
//
// Layouts: src and dst NHWC [n, h, w, c], contiguous.
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

struct IdentityDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  friend bool operator==(const IdentityDesc&, const IdentityDesc&) = default;
};

std::span<const ParamSpec> identity_params();
// "identity:n=1,h=56,w=56,c=96"
std::string to_string(const IdentityDesc& desc);
IdentityDesc identity_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1.
void check(const IdentityDesc& desc);
OpCost cost(const IdentityDesc& desc);
std::vector<WeightSpec> weight_specs(const IdentityDesc& desc);  // empty

class IdentityPlan final : public MixerPlan {
 public:
  // Checks the desc and that no weights are given. Throws InvalidArgument.
  static IdentityPlan create(const Engine& engine, const IdentityDesc& desc,
                             const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override { return "hand:copy"; }

 private:
  IdentityPlan(const IdentityDesc& desc, int threads) : desc_(desc), threads_(threads) {}
  IdentityDesc desc_;
  int threads_ = 1;
};

}  // namespace hwnas
