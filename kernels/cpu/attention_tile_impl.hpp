// The two implementations behind attention_tile(), exposed so tests can run both on any CPU that
// has AVX-512 (attention_tile() itself always takes the fastest). Internal to kernels/cpu/ and
// tests.
//
// Scratch: both take the buffer sized by attention_tile_scratch_floats() (64-byte aligned). The
// AVX-512 path lays it out as
//   kt [dk, np]          K transposed, np = n rounded up to 16, columns n .. np zero
//   vt [n, dvp]          V copied contiguous, dvp = dv rounded up to 16, columns dv .. dvp zero
//   s  [kRowBlock, np]   scaled logits, then unnormalised probabilities, of one block of query rows
// the generic one uses its first n floats as one row of logits.
#pragma once

#include <cstdint>

#include "kernels/cpu/attention_tile.hpp"

namespace hwnas::cpu::detail {

// Query rows the AVX-512 path processes together: the S pass keeps kRowBlock x 4 zmm of logits in
// registers (24 of 32), the P.V pass kRowBlock x up to 4 zmm of outputs.
inline constexpr std::int64_t kAttentionRowBlock = 6;

void attention_tile_generic(const AttentionTile& tile, float* scratch) noexcept;

// Only on a CPU with avx512f (attention_tile_has_avx512()).
void attention_tile_avx512(const AttentionTile& tile, float* scratch) noexcept;
bool attention_tile_has_avx512() noexcept;

}  // namespace hwnas::cpu::detail
