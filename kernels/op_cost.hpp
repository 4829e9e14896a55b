// The cost model every op reports, the basis of roofline and efficiency analysis.
//
// Conventions: a multiply-add counts 2 FLOPs; transcendental functions count 1 FLOP per element (they
// are bandwidth-bound at these sizes and any constant would be arbitrary). bytes is the minimum
// traffic: every input read once and every output written once (weights included), in the op's
// dtype, as if caches were infinite. params counts learnable parameters (weights + bias + norm
// affine), not buffers.
#pragma once

#include <cstdint>

namespace hwnas {

struct OpCost {
  double flops = 0;
  double bytes = 0;
  std::int64_t params = 0;

  double arithmetic_intensity() const { return bytes > 0 ? flops / bytes : 0; }  // FLOP per byte
};

}  // namespace hwnas
