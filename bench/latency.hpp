// A latency as it crosses layer boundaries: a typed duration plus what it summarises, so no bare
// double ever has to be guessed at (milliseconds or seconds? median or mean? per image or per batch?).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "kernels/tensor.hpp"

namespace hwnas {

// A duration in milliseconds held as a double: std::chrono does the unit conversions, so
// Milliseconds(std::chrono::microseconds(250)).count() == 0.25 and a seconds value cannot be passed
// where milliseconds are expected without saying so.
using Milliseconds = std::chrono::duration<double, std::milli>;

// Which statistic of a sample distribution a latency is. Percentiles are numpy's default linear
// interpolation (bench/stats.hpp).
enum class Statistic { Min, P10, Median, P90, P99, Mean };

std::string_view to_string(Statistic statistic);  // "min", "p10", "median", "p90", "p99", "mean"
Statistic parse_statistic(std::string_view name);  // throws InvalidArgument

// The time of one forward pass of a whole batch (not per image), in the given dtype.
struct Latency {
  Milliseconds time{0};
  Statistic statistic = Statistic::Median;
  std::int64_t batch = 1;
  DType dtype = DType::F32;

  friend bool operator==(const Latency&, const Latency&) = default;
};

std::string to_string(Milliseconds time);       // 4 significant digits: "3.412 ms", "0.01234 ms"
std::string to_string(const Latency& latency);  // "median=3.412 ms batch=1 dtype=f32"

}  // namespace hwnas
