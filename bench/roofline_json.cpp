#include "bench/roofline_json.hpp"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "kernels/error.hpp"

namespace hwnas {

std::string roofline_to_json(const Roofline& r) {
  return nlohmann::json{{"threads", r.threads},
                        {"peak_isa", r.peak_isa},
                        {"peak_gflops", r.peak_gflops},
                        {"matmul_gflops", r.matmul_gflops},
                        {"l2_gbps", r.l2_gbps},
                        {"l3_gbps", r.l3_gbps},
                        {"dram_gbps", r.dram_gbps},
                        {"dram_stores", std::string(to_string(r.dram_stores))},
                        {"l2_working_set_bytes", r.l2_working_set_bytes},
                        {"l3_working_set_bytes", r.l3_working_set_bytes},
                        {"dram_working_set_bytes", r.dram_working_set_bytes},
                        {"l2_capacity_bytes", r.l2_capacity_bytes},
                        {"l3_capacity_bytes", r.l3_capacity_bytes}}
      .dump();
}

Roofline roofline_from_json(std::string_view text) {
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) throw IoError(fmt::format("roofline: not a JSON object: {}", text));
  const auto get = [&]<typename T>(const char* key, T& out) {
    if (!j.contains(key)) throw IoError(fmt::format("roofline: stored JSON lacks '{}'", key));
    out = j.at(key).get<T>();
  };
  Roofline r;
  get("threads", r.threads);
  get("peak_isa", r.peak_isa);
  get("peak_gflops", r.peak_gflops);
  get("matmul_gflops", r.matmul_gflops);
  get("l2_gbps", r.l2_gbps);
  get("l3_gbps", r.l3_gbps);
  get("dram_gbps", r.dram_gbps);
  std::string stores;
  get("dram_stores", stores);
  r.dram_stores = stores == to_string(CopyStores::NonTemporal) ? CopyStores::NonTemporal : CopyStores::Regular;
  get("l2_working_set_bytes", r.l2_working_set_bytes);
  get("l3_working_set_bytes", r.l3_working_set_bytes);
  get("dram_working_set_bytes", r.dram_working_set_bytes);
  get("l2_capacity_bytes", r.l2_capacity_bytes);
  get("l3_capacity_bytes", r.l3_capacity_bytes);
  return r;
}

}  // namespace hwnas
