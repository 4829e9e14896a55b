// The hand kernels of linear_attention (kernels/mixers/linear_attention.hpp): the feature map, the
// KV/z reduction over tokens and the per-token application, for one head of head_dim d.
//
// Operands are rows of d floats lying `*_stride` floats apart, so q, k and v are read straight out
// of the [tokens, 3c] qkv buffer. Each function dispatches once per call: an AVX-512 path
// (registers hold a 4-row block of KV, or 4 tokens' outputs, for d = 16, 32, 48, 64) where the CPU
// has avx512f, else portable loops. Nothing allocates or throws; callers split the tokens across
// their own OpenMP threads.
#pragma once

#include <cstdint>

#include "kernels/mixers/linear_attention.hpp"

namespace hwnas::cpu {

// x[i] = phi(x[i]) for i < count, in place: relu, or elu(x) + 1 = x + 1 (x > 0), exp(x) (x <= 0).
void linear_attention_feature_map(FeatureMap map, float* x, std::int64_t count) noexcept;

// kv[i*d + j] = sum_t k[t, i] * v[t, j] and z[i] = sum_t k[t, i] over t < tokens (overwrites).
// k and v are already feature-mapped where needed.
void linear_attention_kv(const float* k, std::int64_t k_stride, const float* v,
                         std::int64_t v_stride, std::int64_t tokens, std::int64_t d, float* kv,
                         float* z) noexcept;

enum class Accumulate { No, Yes };

// out[t, j] (= or +=) (sum_i q[t, i] * kv[i*d + j]) / (sum_i q[t, i] * z[i] + eps), t < tokens.
void linear_attention_apply(const float* q, std::int64_t q_stride, const float* kv, const float* z,
                            std::int64_t tokens, std::int64_t d, float eps, float* out,
                            std::int64_t out_stride, Accumulate accumulate) noexcept;

// "avx512" or "generic": what the functions above dispatch to on this CPU.
const char* linear_attention_kernels_impl() noexcept;

}  // namespace hwnas::cpu
