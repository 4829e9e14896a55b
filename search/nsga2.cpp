#include "search/nsga2.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <string>

#include "kernels/error.hpp"
#include "search/random.hpp"

namespace hwnas {

bool dominates(const Fitness& a, const Fitness& b) {
  const bool a_feasible = a.violation <= 0, b_feasible = b.violation <= 0;
  if (a_feasible != b_feasible) return a_feasible;
  if (!a_feasible) return a.violation < b.violation;
  bool better = false;
  for (std::size_t m = 0; m < a.objectives.size(); ++m) {
    if (a.objectives[m] > b.objectives[m]) return false;
    if (a.objectives[m] < b.objectives[m]) better = true;
  }
  return better;
}

std::vector<std::vector<std::size_t>> non_dominated_sort(std::span<const Fitness> points) {
  const std::size_t n = points.size();
  std::vector<std::vector<std::size_t>> dominated(n);  // the points each one dominates
  std::vector<std::size_t> dominators(n, 0);
  for (std::size_t i = 0; i < n; ++i) {
    for (std::size_t j = i + 1; j < n; ++j) {
      if (dominates(points[i], points[j])) {
        dominated[i].push_back(j);
        ++dominators[j];
      } else if (dominates(points[j], points[i])) {
        dominated[j].push_back(i);
        ++dominators[i];
      }
    }
  }
  std::vector<std::vector<std::size_t>> fronts;
  std::vector<std::size_t> current;
  for (std::size_t i = 0; i < n; ++i) {
    if (dominators[i] == 0) current.push_back(i);
  }
  while (!current.empty()) {
    std::vector<std::size_t> next;
    for (const std::size_t i : current) {
      for (const std::size_t j : dominated[i]) {
        if (--dominators[j] == 0) next.push_back(j);
      }
    }
    std::sort(next.begin(), next.end());
    fronts.push_back(std::move(current));
    current = std::move(next);
  }
  return fronts;
}

std::vector<double> crowding_distance(std::span<const Fitness> points,
                                      std::span<const std::size_t> front) {
  const std::size_t size = front.size();
  std::vector<double> distance(size, 0.0);
  if (size == 0) return distance;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  const std::size_t objectives = points[front[0]].objectives.size();
  std::vector<std::size_t> order(size);
  for (std::size_t m = 0; m < objectives; ++m) {
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
      return points[front[a]].objectives[m] < points[front[b]].objectives[m];
    });
    distance[order.front()] = kInf;
    distance[order.back()] = kInf;
    const double low = points[front[order.front()]].objectives[m];
    const double high = points[front[order.back()]].objectives[m];
    if (!(high > low)) continue;
    for (std::size_t k = 1; k + 1 < size; ++k) {
      const double gap =
          points[front[order[k + 1]]].objectives[m] - points[front[order[k - 1]]].objectives[m];
      distance[order[k]] += gap / (high - low);
    }
  }
  return distance;
}

Ranking rank_points(std::span<const Fitness> points) {
  Ranking ranking{.rank = std::vector<int>(points.size(), 0),
                  .crowding = std::vector<double>(points.size(), 0.0)};
  const auto fronts = non_dominated_sort(points);
  for (std::size_t f = 0; f < fronts.size(); ++f) {
    const std::vector<double> crowding = crowding_distance(points, fronts[f]);
    for (std::size_t k = 0; k < fronts[f].size(); ++k) {
      ranking.rank[fronts[f][k]] = static_cast<int>(f);
      ranking.crowding[fronts[f][k]] = crowding[k];
    }
  }
  return ranking;
}

std::size_t binary_tournament(const Ranking& ranking, std::mt19937_64& rng) {
  const std::size_t n = ranking.rank.size();
  if (n < 2)
    throw InvalidArgument("binary_tournament: needs at least 2 points, got " + std::to_string(n));
  const std::size_t a = uniform_index(rng, n);
  std::size_t b = uniform_index(rng, n - 1);
  if (b >= a) ++b;  // distinct from a, still uniform
  if (ranking.rank[a] != ranking.rank[b]) return ranking.rank[a] < ranking.rank[b] ? a : b;
  return ranking.crowding[b] > ranking.crowding[a] ? b : a;
}

std::vector<std::size_t> select_survivors(std::span<const Fitness> points, std::size_t count) {
  if (count > points.size()) {
    throw InvalidArgument("select_survivors: count=" + std::to_string(count) + " exceeds the " +
                          std::to_string(points.size()) + " points");
  }
  std::vector<std::size_t> survivors;
  for (const std::vector<std::size_t>& front : non_dominated_sort(points)) {
    if (survivors.size() == count) break;
    if (survivors.size() + front.size() <= count) {
      survivors.insert(survivors.end(), front.begin(), front.end());
      continue;
    }
    const std::vector<double> crowding = crowding_distance(points, front);
    std::vector<std::size_t> order(front.size());
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](std::size_t a, std::size_t b) { return crowding[a] > crowding[b]; });
    for (std::size_t k = 0; survivors.size() < count; ++k) survivors.push_back(front[order[k]]);
  }
  return survivors;
}

}  // namespace hwnas
