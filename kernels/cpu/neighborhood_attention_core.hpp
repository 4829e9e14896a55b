// The attention core of neighborhood_attention (NAT / DiNAT), between its qkv and proj linears:
// from qkv tokens [n, map_h * map_w, 3c] (NAT's channel order: which (q, k, v), head, head_dim) to
// the heads' outputs, concatenated, [n, out_h * out_w, c] for the top-left out_h x out_w queries
// (out_h < map_h or out_w < map_w when the mixer zero-padded a small map and crops it again).
// Semantics as kernels/mixers/neighborhood_attention.hpp: scale q, kernel x kernel clamped dilated
// window, relative position bias, softmax, weighted sum of v.
//
// How (details in the .cpp): q, k, v are first transposed into planes [n][3c][map_h][map_w] (q
// scaled), with the columns of each dilation group stored next to each other, so that for one query
// row and 16 consecutive stored columns the keys at one kernel column are 16 consecutive floats
// (one vector load) wherever the window did not clamp, and lie within 32 floats (two loads and a
// permute) where it did. The logits of the kernel^2 neighbours of 16 queries are then 16-lane FMAs
// with no horizontal sums, the softmax is lane-wise, and p.v is 16-lane FMAs again: a depthwise
// convolution whose weights change per pixel. The positions of every clamped window and the bias of
// every (kernel row, kernel column, query column) are tabulated at create().
//
// Internal to kernels/: NaCoreIsa lets tests run the portable path on an AVX-512 machine.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "kernels/engine.hpp"
#include "kernels/tensor.hpp"

namespace hwnas::cpu {

enum class NaCoreIsa { Best, Avx512, Portable };

struct NaGeometry {
  std::int64_t n = 1;
  std::int64_t map_h = 1, map_w = 1;  // the map attention runs on
  std::int64_t out_h = 1, out_w = 1;  // queries computed: rows < out_h, columns < out_w
  std::int64_t heads = 1, head_dim = 1, kernel = 3, dilation = 1;
  float scale = 1.f;  // applied to q
};

class NeighborhoodAttentionCore {
 public:
  // The vector path's limits: kernel <= kMaxVectorKernel (accumulators and index vectors of one
  // kernel row stay in registers; 16 + kernel - 1 clamped positions fit in two vectors).
  static constexpr std::int64_t kMaxVectorKernel = 13;

  // Empty when `isa` can run `geometry` here, else why not ("cpu lacks avx512f", "kernel=15 >
  // 13"). Best always can (it falls back to the portable path).
  static std::string why_not(const NaGeometry& geometry, NaCoreIsa isa);

  // geometry must be valid (odd kernel >= 3, kernel * dilation <= map_h and map_w, out <= map) and
  // why_not(geometry, isa) empty: both are programmer errors here (the mixer's create checks them).
  // rpb is [heads, 2*kernel-1, 2*kernel-1] of any strides, or empty for no bias. Allocates the
  // planes and per-thread scratch for engine.threads() threads.
  static NeighborhoodAttentionCore create(const Engine& engine, const NaGeometry& geometry,
                                          ConstTensorView rpb, NaCoreIsa isa);

  // qkv [n, map_h * map_w, 3c] and out [n, out_h * out_w, c], contiguous; they must not alias.
  // Nothing throws; not safe to call concurrently on one object.
  void run(const float* qkv, float* out) const noexcept;

  // "hand:neighborhood_attention_avx512" or "hand:neighborhood_attention_portable".
  std::string_view impl_name() const;

  NeighborhoodAttentionCore(NeighborhoodAttentionCore&&) noexcept;
  NeighborhoodAttentionCore& operator=(NeighborhoodAttentionCore&&) noexcept;
  ~NeighborhoodAttentionCore();

 private:
  struct State;
  explicit NeighborhoodAttentionCore(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas::cpu
