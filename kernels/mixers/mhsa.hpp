// mhsa: global multi-head self-attention over all h*w tokens of each image (ViT, DeiT), optionally
// with PVT/PVTv2's spatial reduction of keys and values, or with a Swin-style relative position
// bias over the whole map.
//
//   sr_ratio = 1 (timm's ViT Attention):  q, k, v = split(qkv(x)) into `heads` heads of d = c/heads
//   sr_ratio = r > 1 (PVTv2 Attention):   q = q(x);  k, v = split(kv(norm(sr(x))))
//     where sr is Conv2d(c, c, kernel r, stride r) on the [h, w] map (rows and columns past
//     floor(h/r)*r, floor(w/r)*r are dropped, as PyTorch's conv does) and norm LayerNorm(c, eps
//     1e-5)
//   per head:  a = softmax(q k^T * d^-0.5 + B) v,   B = relative position bias when rel_pos = 1
//   out = proj(concat of the heads' a)
//
// B[i, j] = relative_position_bias_table[(yi - yj + h - 1) * (2w - 1) + (xi - xj + w - 1), head]:
// Swin's relative_position_index over the whole map instead of a window (only with sr_ratio = 1).
//
// Weights (PyTorch names and layouts): sr_ratio = 1: qkv.weight [3c, c], qkv.bias [3c]
// (qkv_bias=1), proj.weight [c, c], proj.bias [c]. sr_ratio > 1: q.weight [c, c], q.bias [c],
// kv.weight [2c, c], kv.bias [2c] (the biases when qkv_bias=1), sr.weight [c, c, r, r], sr.bias
// [c], norm.weight [c], norm.bias [c], proj.weight, proj.bias. relative_position_bias_table
// [(2h-1)*(2w-1), heads] when rel_pos = 1. The qkv / kv outputs are laid out [tokens, 3 (or 2),
// heads, d] as in timm and PVTv2.
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

struct MhsaDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t heads = 3;     // must divide c
  std::int64_t qkv_bias = 1;  // 0 or 1
  std::int64_t sr_ratio = 1;  // 1: none; r > 1: K/V from an r x r stride-r conv of the map
  std::int64_t rel_pos = 0;   // 0 or 1; 1 only with sr_ratio = 1
  friend bool operator==(const MhsaDesc&, const MhsaDesc&) = default;
};

std::span<const ParamSpec> mhsa_params();
// "mhsa:n=1,h=56,w=56,c=96,heads=3,qkv_bias=1,sr_ratio=1,rel_pos=0"
std::string to_string(const MhsaDesc& desc);
MhsaDesc mhsa_desc_from(const Params& params);  // calls check()
// Throws InvalidArgument naming the field, the value, the rule and the key: heads not dividing c,
// sr_ratio larger than h or w, rel_pos=1 with sr_ratio > 1.
void check(const MhsaDesc& desc);
// FLOPs: the projections (qkv or q + sr conv + kv, proj) and the two attention products
// (2 * 2 * tokens * keys * c); softmax, the LayerNorm and biases are not counted. bytes = src + dst
// + weights, f32, each once.
OpCost cost(const MhsaDesc& desc);
std::vector<WeightSpec> weight_specs(const MhsaDesc& desc);
// Keys per image: h*w, or floor(h/r) * floor(w/r) with spatial reduction.
std::int64_t mhsa_keys(const MhsaDesc& desc);

class MhsaPlan final : public MixerPlan {
 public:
  // Checks the weights against weight_specs(desc) first, then builds the linear (and conv, layer
  // norm) plans, copies the bias table and allocates every buffer and per-thread scratch. Throws
  // InvalidArgument or Unsupported.
  static MhsaPlan create(const Engine& engine, const MhsaDesc& desc, const MixerWeights& weights);

  void run(ConstTensorView src, TensorView dst) const override;
  // "attention_tile:avx512+" followed by the linear's implementation.
  std::string_view impl_name() const override;

  MhsaPlan(MhsaPlan&&) noexcept;
  MhsaPlan& operator=(MhsaPlan&&) noexcept;
  ~MhsaPlan() override;

 private:
  struct State;
  explicit MhsaPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
