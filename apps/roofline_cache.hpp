// The roofline of this device is measured once per (device, threads, oneDNN version) and kept in
// the store as a run of kind "roofline"; bench-op reuses it for roofline_fraction.
#pragma once

#include <optional>

#include "apps/cli_common.hpp"
#include "bench/measure.hpp"
#include "bench/roofline.hpp"

namespace hwnas::cli {

std::optional<Roofline> stored_roofline(const Store& store, const DeviceContext& device);
Roofline measure_and_store_roofline(Store& store, const Engine& engine, const DeviceContext& device,
                                    const MeasurePolicy& policy);
// The stored one, or a fresh measurement (logged, stored) when there is none.
Roofline roofline_for(Store& store, const Engine& engine, const DeviceContext& device,
                      const MeasurePolicy& policy);

}  // namespace hwnas::cli
