// One factory per op; op_registry.cpp lists them in the order `bench-op --list` prints.
#pragma once

#include <vector>

#include "bench/op_registry.hpp"

namespace hwnas {

OpEntry linear_entry();
OpEntry matmul_entry();
OpEntry layer_norm_entry();
OpEntry batch_norm_entry();
OpEntry softmax_entry();
OpEntry eltwise_entry();
OpEntry binary_entry();
OpEntry pool_entry();
OpEntry global_avg_pool_entry();
OpEntry permute_entry();
OpEntry conv2d_entry();
// One entry per layer of kernels/layers/layer.hpp (MLPs, stems, downsampling), in its order.
std::vector<OpEntry> layer_op_entries();
// One entry per token mixer of kernels/mixers/mixer_registry.hpp, in its order.
std::vector<OpEntry> mixer_op_entries();

}  // namespace hwnas
