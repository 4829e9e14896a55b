#include "bench/interleaved.hpp"

#include <fmt/format.h>

#include "kernels/error.hpp"

namespace hwnas {

MeasurePolicy round_policy() {
  MeasurePolicy p;
  p.ci_rel = 0.03;
  p.min_samples = 5;
  p.min_time_s = 0.2;
  p.max_time_s = 2.0;
  p.max_remeasures = 0;
  return p;
}

InterleavedResult measure_interleaved(std::span<const std::function<void()>> workloads,
                                      const InterleavedOptions& options,
                                      const InterleavedCallback& on_measurement) {
  if (workloads.empty()) throw InvalidArgument("interleaved: no workloads to measure");
  if (options.rounds < 1)
    throw InvalidArgument(fmt::format("interleaved: rounds={} must be >= 1", options.rounds));
  check(options.policy);
  const std::size_t n = workloads.size();
  InterleavedResult result;
  result.rounds.assign(static_cast<std::size_t>(options.rounds), std::vector<Measurement>(n));
  for (int r = 0; r < options.rounds; ++r) {
    for (std::size_t step = 0; step < n; ++step) {
      const std::size_t w = (static_cast<std::size_t>(r) + step) % n;
      Measurement m = measure(workloads[w], options.policy);
      if (on_measurement) on_measurement(r, w, m);
      result.rounds[static_cast<std::size_t>(r)][w] = std::move(m);
    }
  }
  return result;
}

}  // namespace hwnas
