// JSON of a Roofline (stored as a run's config, printed by `hwnas device --roofline --json`). Keys
// are the Roofline field names: peak_gflops, matmul_gflops, l2_gbps, l3_gbps, dram_gbps, ...
#pragma once

#include <string>
#include <string_view>

#include "bench/roofline.hpp"

namespace hwnas {

std::string roofline_to_json(const Roofline& roofline);
Roofline roofline_from_json(std::string_view json);  // throws IoError naming the missing key

}  // namespace hwnas
