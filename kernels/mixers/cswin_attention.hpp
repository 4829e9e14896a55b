// cswin_attention: CSWin Transformer's cross-shaped window self-attention with LePE (Dong et al.
// 2022, "CSWin Transformer"; the official module is CSWinBlock's qkv + LePEAttention + proj).
//
//   qkv = src . qkv.weight^T + qkv.bias                    [tokens, 3c]: q | k | v, each c wide
//   branches = 2: channels [0, c/2) (heads/2 heads) attend within vertical stripes, windows of
//     H x sw (full height, sw columns); channels [c/2, c) within horizontal stripes, windows of
//     sw x W (as the official code: attns[0] is idx 0, H_sp = resolution, W_sp = split_size).
//   branches = 1 (CSWin's last stage): all heads attend over the whole map as one window.
//   In each window, for each head of head_dim d = c / heads:
//     o = softmax(q * d^-0.5 . k^T) . v + lepe(v),
//     lepe = depthwise 3x3 conv (with bias, attns.<branch>.get_v) over v reshaped to the window's
//            own 2-D shape, zero padding at the window border (LePEAttention.get_lepe).
//   dst = concat(branches) . proj.weight^T + proj.bias.
//
// Any map size: as Swin/torchvision, the branch's input is zero-padded at the bottom (horizontal
// stripes) or right (vertical stripes) to a multiple of sw in its striped dimension before qkv, so
// padded tokens carry q = k = v = qkv.bias; they are not masked (they are keys and LePE inputs like
// any token) and are cropped before proj. The other dimension is never padded (a vertical stripe
// spans exactly H rows). branches = 1 needs no padding.
//
// Params: n, h, w, c; heads (default 2); sw (stripe width, default 7, >= 1); branches (1 or 2,
// default 2); qkv_bias (0/1, default 1). The official code gives each branch heads/2 heads of
// (c/2)/(heads/2) channels, so with branches = 2 heads must be even and c/2 divisible by heads/2
// (equivalently c even and heads dividing c); with branches = 1 heads must divide c.
//
// Weights (PyTorch names and layouts): qkv.weight [3c, c], qkv.bias [3c] (qkv_bias = 1),
// proj.weight [c, c], proj.bias [c], attns.<i>.get_v.weight [c/branches, 1, 3, 3] and
// attns.<i>.get_v.bias [c/branches] for each branch i.
//
// Implementation: oneDNN matmul (LinearPlan) for qkv and proj; between them one OpenMP loop over
// (batch, branch, stripe, head) gathers the window's q/k/v rows into per-thread buffers, runs the
// shared attention core (kernels/cpu/attention_tile.hpp) in blocks of queries, adds LePE computed
// on the gathered v and scatters the real tokens into a [tokens, c] buffer.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kernels/bias.hpp"
#include "kernels/engine.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"

namespace hwnas {

struct CswinAttentionDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t heads = 2;
  std::int64_t sw = 7;
  std::int64_t branches = 2;
  Bias qkv_bias = Bias::Add;
  friend bool operator==(const CswinAttentionDesc&, const CswinAttentionDesc&) = default;
};

std::span<const ParamSpec> cswin_attention_params();
// "cswin_attention:n=1,h=56,w=56,c=96,heads=2,sw=7,branches=2,qkv_bias=1"
std::string to_string(const CswinAttentionDesc& desc);
CswinAttentionDesc cswin_attention_desc_from(const Params& params);  // calls check()
// Throws InvalidArgument naming the field, its value, the rule and the key: sizes < 1, sw < 1,
// branches not 1 or 2, heads odd with two branches, heads not dividing c.
void check(const CswinAttentionDesc& desc);
// FLOPs: qkv 2*N*c*3c and proj 2*N*c*c over the n*h*w real tokens; per window and head
// 2*T*T*d (q.k^T) + 2*T*T*d (p.v) over the padded window of T tokens, as the definition computes
// it (the plan skips the queries of a horizontal stripe's cropped rows, at most sw-1 rows of one
// stripe); LePE 2*9 per channel of each padded-window token. Softmax exp/sum not counted. bytes:
// src + dst + weights, f32, each once.
OpCost cost(const CswinAttentionDesc& desc);
std::vector<WeightSpec> weight_specs(const CswinAttentionDesc& desc);

// One branch's windows: `count` windows of win_h x win_w tokens; window s covers rows
// [s*step_h, s*step_h + win_h) and columns [s*step_w, ...) of the (padded) map.
struct CswinBranchGeometry {
  std::int64_t win_h = 0, win_w = 0, count = 0, step_h = 0, step_w = 0;
  std::int64_t tokens() const { return win_h * win_w; }
};
CswinBranchGeometry cswin_branch_geometry(const CswinAttentionDesc& desc, std::int64_t branch);

class CswinAttentionPlan final : public MixerPlan {
 public:
  // Checks the desc and the weights (check_weights), creates the two LinearPlans, copies the LePE
  // weights and allocates every buffer, per-thread ones included. Throws InvalidArgument or
  // Unsupported.
  static CswinAttentionPlan create(const Engine& engine, const CswinAttentionDesc& desc,
                                   const MixerWeights& weights);

  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

  CswinAttentionPlan(CswinAttentionPlan&&) noexcept;
  CswinAttentionPlan& operator=(CswinAttentionPlan&&) noexcept;
  ~CswinAttentionPlan() override;

 private:
  struct State;
  explicit CswinAttentionPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
