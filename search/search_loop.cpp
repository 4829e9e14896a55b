#include "search/search_loop.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "kernels/error.hpp"
#include "search/genome.hpp"
#include "search/hypervolume.hpp"
#include "search/nsga2.hpp"
#include "search/random.hpp"
#include "search/variation.hpp"
#include "supernet/subnet.hpp"

namespace hwnas {
namespace {

// Draws of a child (or an initial subnet) before a duplicate is accepted: bounded, so a space
// smaller than the population cannot loop forever (STYLE.md §8).
constexpr int kMaxDraws = 10;

const std::vector<std::string> kObjectiveNames{"quality", "latency", "params", "flops"};

bool is_finite_positive(double x) { return std::isfinite(x) && x > 0; }

// The state of one run: the memo of evaluated architectures and the counters of the current
// generation.
class Search {
 public:
  Search(const SearchSpace& space, const SearchConfig& config, LatencyEvaluator& latency,
         QualityEvaluator& quality, SearchObserver& observer)
      : space_(space),
        config_(config),
        latency_(latency),
        quality_(quality),
        observer_(observer),
        predicting_(latency.relative_error() > 0) {}

  SearchResult run(const std::optional<ResumePoint>& resume);

 private:
  Fitness fitness(const Candidate& c) const {
    return {.objectives = objective_vector(config_, c.obj), .violation = c.violation};
  }
  std::vector<Fitness> fitnesses(const std::vector<Candidate>& candidates) const {
    std::vector<Fitness> result;
    for (const Candidate& c : candidates) result.push_back(fitness(c));
    return result;
  }
  void start_generation() {
    evaluations_ = cache_hits_ = checks_ = 0;
    predicted_.clear();
    measured_.clear();
  }
  // The latency the search ranks a candidate with; measured when a prediction is too close to
  // the budget to decide.
  LatencyEstimate latency_of(const Arch& arch, const std::string& hash, bool& timed_nothing);
  Candidate evaluate(const Arch& arch, std::string origin);
  void measure_member(Candidate& c);
  std::vector<Candidate> initial_population();
  std::vector<Candidate> breed(int generation, const std::vector<Candidate>& population);
  double front_hypervolume(const std::vector<Candidate>& population) const;
  void rank(std::vector<Candidate>& population) const;
  GenerationReport report(int generation, std::vector<Candidate> evaluated,
                          const std::vector<Candidate>& population, double hv) const;
  bool stagnated() const;
  SearchResult finish(std::vector<Candidate> population, int generation, bool early_stopped);

  const SearchSpace& space_;
  const SearchConfig& config_;
  LatencyEvaluator& latency_;
  QualityEvaluator& quality_;
  SearchObserver& observer_;
  const bool predicting_;
  std::map<std::string, Candidate> memo_;  // by hash
  std::vector<double> reference_;
  std::vector<double> hypervolumes_;
  int evaluations_ = 0, cache_hits_ = 0, checks_ = 0;
  std::vector<double> predicted_, measured_;  // this generation's checks
};

LatencyEstimate Search::latency_of(const Arch& arch, const std::string& hash, bool& timed_nothing) {
  LatencyEstimate estimate = latency_.estimate(arch);
  timed_nothing = estimate.cache_hit;
  if (!is_finite_positive(estimate.ms)) {
    throw Error(fmt::format("search: latency evaluator '{}' returned {} ms for arch {}",
                            latency_.kind(), estimate.ms, hash));
  }
  if (!std::isfinite(estimate.predicted_ms) && estimate.source != "measured") {
    estimate.predicted_ms = estimate.ms;
  }
  const double budget = config_.latency_budget_ms.value_or(0);
  const bool near_budget = predicting_ && config_.latency_budget_ms &&
                           estimate.source != "measured" &&
                           std::abs(estimate.ms - budget) <= latency_.relative_error() * budget;
  if (!near_budget) return estimate;
  LatencyEstimate measured = latency_.measure(arch);
  if (!is_finite_positive(measured.ms)) {
    throw Error(fmt::format("search: latency evaluator '{}' measured {} ms for arch {}",
                            latency_.kind(), measured.ms, hash));
  }
  ++checks_;
  timed_nothing = timed_nothing && measured.cache_hit;
  if (!std::isfinite(measured.predicted_ms)) measured.predicted_ms = estimate.predicted_ms;
  predicted_.push_back(measured.predicted_ms);
  measured_.push_back(measured.ms);
  return measured;
}

Candidate Search::evaluate(const Arch& arch, std::string origin) {
  ++evaluations_;
  std::string hash = arch_hash(arch);
  if (const auto found = memo_.find(hash); found != memo_.end()) {
    ++cache_hits_;
    Candidate c = found->second;
    c.origin = std::move(origin);
    return c;
  }
  bool timed_nothing = false;
  const LatencyEstimate latency = latency_of(arch, hash, timed_nothing);
  const QualityEstimate quality = quality_.evaluate(arch);
  if (!std::isfinite(quality.value)) {
    throw Error(fmt::format("search: quality evaluator '{}' returned {} for arch {}",
                            quality_.source(), quality.value, hash));
  }
  // A cache hit computed nothing: its latency and its quality both came from a cache.
  cache_hits_ += timed_nothing && quality.cache_hit ? 1 : 0;
  const ArchCost cost = arch_cost(arch, config_.resolution);
  Candidate c{.arch = arch,
              .hash = hash,
              .obj = {.latency_ms = latency.ms,
                      .latency_source = latency.source,
                      .predicted_ms = latency.predicted_ms,
                      .quality = quality.value,
                      .quality_source = quality.source,
                      .params = cost.params,
                      .flops = cost.flops},
              .violation = 0,
              .rank = 0,
              .crowding = 0,
              .origin = std::move(origin),
              .in_population = false};
  c.violation = budget_violation(config_, c.obj);
  memo_.emplace(std::move(hash), c);
  return c;
}

std::vector<Candidate> Search::initial_population() {
  std::mt19937_64 rng = make_rng(config_.seed, 0, RngPurpose::Initial);
  std::vector<Arch> archs;
  std::set<std::string> seen;
  for (int i = 0; i < config_.population; ++i) {
    Arch arch;
    for (int draw = 0; draw < kMaxDraws; ++draw) {
      arch = sample_arch(space_, rng, config_.resolution);
      if (seen.count(arch_hash(arch)) == 0) break;
    }
    seen.insert(arch_hash(arch));
    archs.push_back(std::move(arch));
  }
  std::vector<Candidate> population;
  for (std::size_t i = 0; i < archs.size(); ++i) {
    population.push_back(evaluate(archs[i], "init"));
    observer_.on_evaluation(0, static_cast<int>(i), config_.population, population.back());
  }
  return population;
}

std::vector<Candidate> Search::breed(int generation, const std::vector<Candidate>& population) {
  std::mt19937_64 rng = make_rng(config_.seed, generation, RngPurpose::Offspring);
  std::vector<Fitness> points = fitnesses(population);
  const Ranking ranking = rank_points(points);
  std::vector<Genome> genomes;
  std::set<std::string> seen;
  for (const Candidate& c : population) {
    genomes.push_back(encode(space_, c.arch));
    seen.insert(c.hash);
  }
  std::vector<std::pair<Arch, std::string>> children;
  for (int i = 0; i < config_.population; ++i) {
    Arch arch;
    std::string origin;
    for (int draw = 0; draw < kMaxDraws; ++draw) {
      const std::size_t a = binary_tournament(ranking, rng);
      const std::size_t b = binary_tournament(ranking, rng);
      Genome child = genomes[a];
      // Two tournaments can pick the same parent; crossing it with itself gives it back, so its
      // lineage is a mutation (the draws stay the same, so the search does too).
      if (uniform_unit(rng) < config_.crossover_p) {
        child = crossover(space_, genomes[a], genomes[b], rng);
        origin = a == b ? fmt::format("mutation:{}", population[a].hash)
                        : fmt::format("crossover:{},{}", population[a].hash, population[b].hash);
      } else {
        origin = fmt::format("mutation:{}", population[a].hash);
      }
      arch = decode(space_, mutate(space_, child, config_.mutation_p, rng), config_.resolution);
      if (seen.count(arch_hash(arch)) == 0) break;
    }
    seen.insert(arch_hash(arch));
    children.emplace_back(std::move(arch), std::move(origin));
  }
  std::vector<Candidate> offspring;
  for (std::size_t i = 0; i < children.size(); ++i) {
    offspring.push_back(evaluate(children[i].first, std::move(children[i].second)));
    observer_.on_evaluation(generation, static_cast<int>(i), config_.population, offspring.back());
  }
  return offspring;
}

double Search::front_hypervolume(const std::vector<Candidate>& population) const {
  std::vector<std::vector<double>> feasible;
  for (const Candidate& c : population) {
    if (c.violation <= 0) feasible.push_back(objective_vector(config_, c.obj));
  }
  return hypervolume(feasible, reference_);
}

void Search::rank(std::vector<Candidate>& population) const {
  const Ranking ranking = rank_points(fitnesses(population));
  for (std::size_t i = 0; i < population.size(); ++i) {
    population[i].rank = ranking.rank[i];
    population[i].crowding = ranking.crowding[i];
    population[i].in_population = true;
  }
}

GenerationReport Search::report(int generation, std::vector<Candidate> evaluated,
                                const std::vector<Candidate>& population, double hv) const {
  GenerationReport r{.generation = generation,
                     .evaluated = std::move(evaluated),
                     .population = population,
                     .hypervolume = hv,
                     .reference = reference_,
                     .objectives = config_.objectives,
                     .evaluations = evaluations_,
                     .cache_hits = cache_hits_,
                     .measured_checks = checks_,
                     .predictor = std::nullopt};
  if (!measured_.empty()) r.predictor = predictor_error(predicted_, measured_);
  return r;
}

// No relative improvement above early_stop_rel in the last K generations over the best before
// them. A hypervolume of 0 (nothing feasible yet) never stops the search: it may be making
// progress on the violation, which the hypervolume does not see.
bool Search::stagnated() const {
  const auto k = static_cast<std::size_t>(config_.early_stop_generations);
  if (k == 0 || hypervolumes_.size() <= k) return false;
  const auto split = hypervolumes_.end() - static_cast<std::ptrdiff_t>(k);
  const double before = *std::max_element(hypervolumes_.begin(), split);
  const double recent = *std::max_element(split, hypervolumes_.end());
  return before > 0 && recent <= before * (1 + config_.early_stop_rel);
}

void Search::measure_member(Candidate& c) {
  const LatencyEstimate measured = latency_.measure(c.arch);
  if (!is_finite_positive(measured.ms)) {
    throw Error(fmt::format("search: latency evaluator '{}' measured {} ms for arch {}",
                            latency_.kind(), measured.ms, c.hash));
  }
  ++checks_;
  const double predicted =
      std::isfinite(measured.predicted_ms) ? measured.predicted_ms : c.obj.latency_ms;
  predicted_.push_back(predicted);
  measured_.push_back(measured.ms);
  c.obj.latency_ms = measured.ms;
  c.obj.latency_source = measured.source;
  c.obj.predicted_ms = predicted;
  c.violation = budget_violation(config_, c.obj);
}

SearchResult Search::finish(std::vector<Candidate> population, int generation, bool early_stopped) {
  start_generation();
  std::vector<std::size_t> front;
  while (true) {
    front = non_dominated_sort(fitnesses(population)).front();
    bool measured_any = false;
    if (predicting_) {
      for (const std::size_t i : front) {
        if (population[i].obj.latency_source == "measured") continue;
        // A member measured once is measured for every copy of its architecture.
        const std::string hash = population[i].hash;
        measure_member(population[i]);
        for (Candidate& other : population) {
          if (other.hash == hash) other = population[i];
        }
        measured_any = true;
      }
    }
    if (!measured_any) break;
  }
  rank(population);
  SearchResult result{.front = {},
                      .generations_run = generation,
                      .early_stopped = early_stopped,
                      .final_measured_checks = checks_,
                      .final_predictor = std::nullopt};
  if (!measured_.empty()) result.final_predictor = predictor_error(predicted_, measured_);
  std::set<std::string> taken;
  for (const std::size_t i : front) {
    if (taken.insert(population[i].hash).second) result.front.push_back(population[i]);
  }
  std::sort(result.front.begin(), result.front.end(), [&](const Candidate& a, const Candidate& b) {
    const auto va = objective_vector(config_, a.obj), vb = objective_vector(config_, b.obj);
    return va != vb ? va < vb : a.hash < b.hash;
  });
  return result;
}

SearchResult Search::run(const std::optional<ResumePoint>& resume) {
  std::vector<Candidate> population;
  int generation = 0;
  if (resume) {
    generation = resume->completed_generation;
    for (const Candidate& c : resume->evaluated) memo_.emplace(arch_hash(c.arch), c);
    for (Candidate c : resume->population) {
      c.hash = arch_hash(c.arch);
      c.violation = budget_violation(config_, c.obj);
      memo_.emplace(c.hash, c);
      population.push_back(std::move(c));
    }
    rank(population);
    reference_ = resume->reference;
    hypervolumes_ = resume->hypervolumes;
  } else {
    start_generation();
    population = initial_population();
    // From the feasible members when there are any: the hypervolume only counts feasible
    // points, and infeasible ones (often the large, high-quality ones) would otherwise set a
    // reference that the feasible region never reaches.
    std::vector<std::vector<double>> points, feasible;
    for (const Candidate& c : population) {
      points.push_back(objective_vector(config_, c.obj));
      if (c.violation <= 0) feasible.push_back(points.back());
    }
    reference_ = reference_point(feasible.empty() ? points : feasible);
    rank(population);
    const double hv = front_hypervolume(population);
    hypervolumes_.push_back(hv);
    observer_.on_generation(report(0, population, population, hv));
  }
  bool early_stopped = false;
  while (generation < config_.generations) {
    if (stagnated()) {
      early_stopped = true;
      break;
    }
    ++generation;
    start_generation();
    std::vector<Candidate> offspring = breed(generation, population);
    std::vector<Candidate> merged = population;
    merged.insert(merged.end(), offspring.begin(), offspring.end());
    const std::vector<Fitness> points = fitnesses(merged);
    const Ranking ranking = rank_points(points);
    const std::vector<std::size_t> survivors =
        select_survivors(points, static_cast<std::size_t>(config_.population));
    std::vector<Candidate> next;
    for (const std::size_t i : survivors) next.push_back(merged[i]);
    rank(next);
    for (std::size_t k = 0; k < offspring.size(); ++k) {
      const std::size_t i = population.size() + k;
      offspring[k].rank = ranking.rank[i];
      offspring[k].crowding = ranking.crowding[i];
      offspring[k].in_population =
          std::find(survivors.begin(), survivors.end(), i) != survivors.end();
    }
    population = std::move(next);
    const double hv = front_hypervolume(population);
    hypervolumes_.push_back(hv);
    observer_.on_generation(report(generation, std::move(offspring), population, hv));
  }
  return finish(std::move(population), generation, early_stopped);
}

}  // namespace

void check(const SearchConfig& config) {
  auto fail = [](const std::string& message) { throw InvalidArgument("search: " + message); };
  if (config.objectives.empty() || config.objectives.size() > kObjectiveNames.size()) {
    fail(fmt::format("objectives=[{}] must name 1 to 4 of quality, latency, params, flops",
                     fmt::join(config.objectives, ",")));
  }
  for (std::size_t i = 0; i < config.objectives.size(); ++i) {
    const std::string& name = config.objectives[i];
    if (std::find(kObjectiveNames.begin(), kObjectiveNames.end(), name) == kObjectiveNames.end()) {
      fail(fmt::format("objectives[{}]='{}' is not one of quality, latency, params, flops", i,
                       name));
    }
    if (std::find(config.objectives.begin(), config.objectives.begin() + i, name) !=
        config.objectives.begin() + i) {
      fail(fmt::format("objectives[{}]='{}' is listed twice", i, name));
    }
  }
  if (config.latency_budget_ms && !is_finite_positive(*config.latency_budget_ms)) {
    fail(fmt::format("latency_budget_ms={} must be > 0", *config.latency_budget_ms));
  }
  if (config.params_budget && !is_finite_positive(*config.params_budget)) {
    fail(fmt::format("params_budget={} must be > 0", *config.params_budget));
  }
  if (config.population < 2) fail(fmt::format("population={} must be >= 2", config.population));
  if (config.generations < 0) {
    fail(fmt::format("generations={} must be >= 0", config.generations));
  }
  if (!(config.mutation_p >= 0 && config.mutation_p <= 1)) {
    fail(fmt::format("mutation_p={} must be in [0, 1]", config.mutation_p));
  }
  if (!(config.crossover_p >= 0 && config.crossover_p <= 1)) {
    fail(fmt::format("crossover_p={} must be in [0, 1]", config.crossover_p));
  }
  if (config.resolution < 1) fail(fmt::format("resolution={} must be >= 1", config.resolution));
  if (config.early_stop_generations < 0) {
    fail(fmt::format("early_stop_generations={} must be >= 0 (0 = off)",
                     config.early_stop_generations));
  }
  if (!(config.early_stop_rel >= 0 && std::isfinite(config.early_stop_rel))) {
    fail(fmt::format("early_stop_rel={} must be >= 0", config.early_stop_rel));
  }
}

std::vector<double> objective_vector(const SearchConfig& config, const Objectives& objectives) {
  std::vector<double> values;
  for (const std::string& name : config.objectives) {
    if (name == "quality") values.push_back(-objectives.quality);
    if (name == "latency") values.push_back(objectives.latency_ms);
    if (name == "params") values.push_back(objectives.params);
    if (name == "flops") values.push_back(objectives.flops);
  }
  return values;
}

double budget_violation(const SearchConfig& config, const Objectives& objectives) {
  double violation = 0;
  if (config.latency_budget_ms) {
    violation += std::max(0.0, objectives.latency_ms / *config.latency_budget_ms - 1);
  }
  if (config.params_budget) {
    violation += std::max(0.0, objectives.params / *config.params_budget - 1);
  }
  return violation;
}

std::vector<double> reference_point(std::span<const std::vector<double>> points) {
  if (points.empty()) throw InvalidArgument("reference_point: no points");
  std::vector<double> reference;
  for (std::size_t m = 0; m < points.front().size(); ++m) {
    double low = points.front()[m], worst = low;
    for (const auto& p : points) {
      low = std::min(low, p[m]);
      worst = std::max(worst, p[m]);
    }
    double margin = 0.1 * (worst - low);
    if (!(margin > 0)) margin = 0.1 * std::abs(worst);
    if (!(margin > 0)) margin = 1;
    reference.push_back(worst + margin);
  }
  return reference;
}

SearchResult run_search(const SearchSpace& space, const SearchConfig& config,
                        LatencyEvaluator& latency, QualityEvaluator& quality,
                        SearchObserver& observer, const std::optional<ResumePoint>& resume) {
  check(config);
  if (std::find(space.resolutions.begin(), space.resolutions.end(), config.resolution) ==
      space.resolutions.end()) {
    throw InvalidArgument(fmt::format("search: resolution={} is not one of space '{}''s {{{}}}",
                                      config.resolution, space.name,
                                      fmt::join(space.resolutions, ", ")));
  }
  if (resume) {
    const auto population = static_cast<std::size_t>(config.population);
    if (resume->population.size() != population) {
      throw InvalidArgument(fmt::format("search: resume point has {} members, population={}",
                                        resume->population.size(), config.population));
    }
    if (resume->reference.size() != config.objectives.size()) {
      throw InvalidArgument(fmt::format("search: resume reference has {} values for {} objectives",
                                        resume->reference.size(), config.objectives.size()));
    }
    if (resume->completed_generation < 0) {
      throw InvalidArgument(fmt::format("search: resume completed_generation={} must be >= 0",
                                        resume->completed_generation));
    }
    if (config.early_stop_generations > 0 &&
        resume->hypervolumes.size() != static_cast<std::size_t>(resume->completed_generation) + 1) {
      throw InvalidArgument(fmt::format(
          "search: early stop needs the hypervolume of generations 0..{}; the resume point has {}",
          resume->completed_generation, resume->hypervolumes.size()));
    }
  }
  Search search(space, config, latency, quality, observer);
  return search.run(resume);
}

}  // namespace hwnas
