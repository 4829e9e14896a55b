#include "search/hypervolume.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "kernels/error.hpp"

namespace hwnas {
namespace {

// `points` all strictly inside the reference box; uses the first `dims` coordinates.
double volume(std::vector<std::vector<double>> points, std::span<const double> reference,
              std::size_t dims) {
  if (points.empty()) return 0;
  if (dims == 1) {
    double best = reference[0];
    for (const auto& p : points) best = std::min(best, p[0]);
    return reference[0] - best;
  }
  if (dims == 2) {
    std::sort(points.begin(), points.end(), [](const auto& a, const auto& b) {
      return a[0] != b[0] ? a[0] < b[0] : a[1] < b[1];
    });
    double area = 0, lowest = reference[1];
    for (const auto& p : points) {
      if (p[1] < lowest) {
        area += (reference[0] - p[0]) * (lowest - p[1]);
        lowest = p[1];
      }
    }
    return area;
  }
  const std::size_t last = dims - 1;
  std::sort(points.begin(), points.end(),
            [&](const auto& a, const auto& b) { return a[last] < b[last]; });
  double total = 0;
  std::vector<std::vector<double>> below;
  for (std::size_t i = 0; i < points.size(); ++i) {
    below.push_back(points[i]);
    const double next = i + 1 < points.size() ? points[i + 1][last] : reference[last];
    // Between this point's level and the next, the slice is the (d-1)-volume of every point at
    // or below it.
    if (next > points[i][last]) total += volume(below, reference, last) * (next - points[i][last]);
  }
  return total;
}

}  // namespace

double hypervolume(std::span<const std::vector<double>> points, std::span<const double> reference) {
  if (reference.empty()) throw InvalidArgument("hypervolume: empty reference point");
  for (const double r : reference) {
    if (!std::isfinite(r)) {
      throw InvalidArgument(fmt::format("hypervolume: reference value {} is not finite", r));
    }
  }
  std::vector<std::vector<double>> inside;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const std::vector<double>& p = points[i];
    if (p.size() != reference.size()) {
      throw InvalidArgument(fmt::format("hypervolume: point {} has {} objectives, the reference {}",
                                        i, p.size(), reference.size()));
    }
    bool dominates_reference = true;
    for (std::size_t m = 0; m < p.size(); ++m) {
      if (!std::isfinite(p[m])) {
        throw InvalidArgument(
            fmt::format("hypervolume: point {} objective {} = {} is not finite", i, m, p[m]));
      }
      dominates_reference = dominates_reference && p[m] < reference[m];
    }
    if (dominates_reference) inside.push_back(p);
  }
  return volume(std::move(inside), reference, reference.size());
}

}  // namespace hwnas
