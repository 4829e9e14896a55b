// neighborhood_attention: NAT's NeighborhoodAttention2D (and DiNAT's dilated form) on NATTEN's
// semantics, as a token mixer [n, h, w, c] -> [n, h, w, c].
//
//   qkv = Linear(c, 3c)(x), split into heads of head_dim = c / heads, q scaled by head_dim^-0.5;
//   each query pixel (i, j) attends to exactly kernel x kernel keys: per axis, the pixels with the
//   same index mod dilation form a sub-grid of length L; with q the query's index in it, the window
//   start is clamp(q - kernel/2, 0, L - kernel) and the key at offset t is pixel g + dilation *
//   (start + t), so at the borders the window shifts inward instead of shrinking;
//   logits += rpb[head, (key_row - query_row) / dilation + kernel - 1, same for columns]
//   (rel_pos=1; NATTEN's get_pb_start indexing), softmax over the kernel^2 neighbours, weighted sum
//   of v, heads concatenated, then Linear(c, c).
//
// Params: heads (divides c), kernel (odd, >= 3, as NATTEN), dilation (>= 1), qkv_bias, rel_pos,
// pad. With pad=0 every dilation group must hold a whole window: kernel * dilation <= h and <= w,
// else InvalidArgument ("kernel larger than the map", "dilation*kernel larger than the map"). With
// pad=1 the mixer does what the NAT/DiNAT modules do on small maps: x is zero-padded at the
// bottom/right up to kernel * dilation before qkv (so padded pixels carry the qkv bias as keys and
// values), attention runs on the padded map, and the result is cropped before proj; any h, w >= 1
// then runs.
//
// Weights (NAT's module names): qkv.weight [3c, c], qkv.bias [3c] (qkv_bias=1), rpb [heads,
// 2*kernel-1, 2*kernel-1] (rel_pos=1), proj.weight [c, c], proj.bias [c].
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/bias.hpp"
#include "kernels/cpu/neighborhood_attention_core.hpp"
#include "kernels/engine.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/ops/linear.hpp"
#include "kernels/params.hpp"

namespace hwnas {

struct NeighborhoodAttentionDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t heads = 3;
  std::int64_t kernel = 7;
  std::int64_t dilation = 1;
  Bias qkv_bias = Bias::Add;
  bool rel_pos = true;
  bool pad = false;  // zero-pad small maps up to kernel * dilation (NAT/DiNAT modules)
  friend bool operator==(const NeighborhoodAttentionDesc&,
                         const NeighborhoodAttentionDesc&) = default;
};

std::span<const ParamSpec> neighborhood_attention_params();
// "neighborhood_attention:n=1,h=56,w=56,c=96,heads=3,kernel=7,dilation=1,qkv_bias=1,rel_pos=1,pad=0"
std::string to_string(const NeighborhoodAttentionDesc& desc);
NeighborhoodAttentionDesc neighborhood_attention_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, the value, the rule and the key.
void check(const NeighborhoodAttentionDesc& desc);
// FLOPs: qkv on the (padded) map, 2 * 2 * tokens * kernel^2 * c for q.k and p.v, proj; bias adds,
// softmax and exp are not counted. bytes: src + dst + weights, f32, each once.
OpCost cost(const NeighborhoodAttentionDesc& desc);
std::vector<WeightSpec> weight_specs(const NeighborhoodAttentionDesc& desc);

// The map attention runs on: (h, w), or with pad=1 each side raised to kernel * dilation.
std::int64_t neighborhood_attention_map_h(const NeighborhoodAttentionDesc& desc);
std::int64_t neighborhood_attention_map_w(const NeighborhoodAttentionDesc& desc);

class NeighborhoodAttentionPlan final : public MixerPlan {
 public:
  // check_weights first, then the qkv/proj LinearPlans, the attention core (the fastest path this
  // CPU runs, or the one `isa` forces: tests run both) and the scratch. Throws InvalidArgument, or
  // Unsupported when `isa` names a path that cannot run here.
  static NeighborhoodAttentionPlan create(const Engine& engine,
                                          const NeighborhoodAttentionDesc& desc,
                                          const MixerWeights& weights,
                                          cpu::NaCoreIsa isa = cpu::NaCoreIsa::Best);

  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  NeighborhoodAttentionPlan(NeighborhoodAttentionPlan&&) noexcept;
  NeighborhoodAttentionPlan& operator=(NeighborhoodAttentionPlan&&) noexcept;
  ~NeighborhoodAttentionPlan() override;

 private:
  struct State;
  explicit NeighborhoodAttentionPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
