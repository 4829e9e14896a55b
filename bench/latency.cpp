#include "bench/latency.hpp"

#include <fmt/format.h>

#include <array>
#include <utility>

#include "kernels/error.hpp"

namespace hwnas {

namespace {
constexpr std::array<std::pair<Statistic, std::string_view>, 6> kStatisticNames{{
    {Statistic::Min, "min"},
    {Statistic::P10, "p10"},
    {Statistic::Median, "median"},
    {Statistic::P90, "p90"},
    {Statistic::P99, "p99"},
    {Statistic::Mean, "mean"},
}};
}  // namespace

std::string_view to_string(Statistic statistic) {
  for (const auto& [value, name] : kStatisticNames) {
    if (value == statistic) return name;
  }
  return "?";
}

Statistic parse_statistic(std::string_view name) {
  for (const auto& [value, known] : kStatisticNames) {
    if (known == name) return value;
  }
  throw InvalidArgument(
      fmt::format("latency: statistic={} must be one of min, p10, median, p90, p99, mean", name));
}

std::string to_string(Milliseconds time) { return fmt::format("{:.4g} ms", time.count()); }

std::string to_string(const Latency& latency) {
  return fmt::format("{}={} batch={} dtype={}", to_string(latency.statistic), to_string(latency.time),
                     latency.batch, to_string(latency.dtype));
}

}  // namespace hwnas
