// The softmax-attention core that the attention mixers share: one head, a block of queries.
//
//   o[i, :] = sum_j p[i, j] * v[j, :],   p[i, :] = softmax_j(scale * q[i, :] . k[j, :] + bias[i,
//   j])
//
// All f32. Each operand is a row-major matrix whose rows are contiguous (dk or dv floats) and lie
// `*_stride` floats apart, so the rows of one head can be read straight out of a [tokens, 3, heads,
// d] qkv buffer. bias is optional (null = none); it carries relative position bias and masks (Swin
// masks with -100, not -inf, and so do we where a mixer follows Swin).
//
// Hand-written because nothing in oneDNN 3.2 runs this fused at these sizes: oneDNN's matmul costs
// microseconds to dispatch per call, more than a 49x49x32 window product takes, and materialising
// every window's scores at once (what two batched matmuls + softmax do) streams them through memory
// three times. The mixers call this from inside their own OpenMP loops, one tile per thread, each
// with its own scratch, so intermediates never exceed one tile per thread.
#pragma once

#include <cstdint>

namespace hwnas::cpu {

struct AttentionTile {
  const float* q = nullptr;
  std::int64_t q_stride = 0;
  const float* k = nullptr;
  std::int64_t k_stride = 0;
  const float* v = nullptr;
  std::int64_t v_stride = 0;
  float* o = nullptr;
  std::int64_t o_stride = 0;
  const float* bias = nullptr;  // [m, n] or null
  std::int64_t bias_stride = 0;
  std::int64_t m = 0, n = 0, dk = 0, dv = 0;
  float scale = 1.f;
};

// Floats of scratch one call needs (64-byte aligned by the caller): (dk + round_up(dv, 16) + 6) *
// round_up(n, 16), independent of m, so query blocks of any size share one buffer per thread. K is
// transposed and V copied into it once per call, so a larger m amortises that (and the strided
// reads of K and V) over more rows.
std::int64_t attention_tile_scratch_floats(std::int64_t m, std::int64_t n, std::int64_t dk,
                                           std::int64_t dv);

// Computes the tile; o must not overlap q, k, v or bias. m, n, dk, dv >= 1.
void attention_tile(const AttentionTile& tile, float* scratch) noexcept;

// Single-threaded on one Zen 5 core (2.6 GHz base), 4*m*n*d FLOPs, medians interleaved with the
// generic path in one process: 49x49x32 2.5 us (~120 GFLOP/s, 16x generic), 64x3136x32 0.19 ms
// (~135 GFLOP/s, 22x), 392x392x32 (CSWin sw=7) ~170 GFLOP/s; the machine was shared, so +-15%.
// "avx512" or "generic": the implementation attention_tile() dispatches to on this CPU.
const char* attention_tile_impl() noexcept;

}  // namespace hwnas::cpu
