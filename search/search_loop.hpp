// The search: NSGA-II over a SearchSpace (or its constrained single-objective mode, as OFA and
// HAT search), seeing latency and quality only through the evaluators (search/evaluator.hpp) and
// reporting each generation to an observer; apps/ stores every report in one transaction and
// rebuilds a ResumePoint from the store.
//
//   SearchConfig config{.objectives = {"quality", "latency"}, .latency_budget_ms = 20.0};
//   SearchResult result = run_search(space, config, latency, quality, observer);
//
// Deterministic: every random draw comes from make_rng(seed, generation, purpose), so the same
// seed and evaluators give the same reports, and a search resumed after generation k continues
// exactly as an uninterrupted one would.
//
// Generation 0 samples `population` distinct subnets uniformly (search/genome.hpp). Each later
// generation breeds `population` offspring: two binary tournaments pick the parents, crossover
// with probability crossover_p (else the first parent), then mutation with per-choice
// probability mutation_p; a child equal to a member of the population or to an earlier child is
// drawn again, up to 10 times, then kept. Parents and offspring are merged and the best
// `population` survive (non-dominated fronts under constrained domination, then crowding).
//
// Objectives are minimised: quality enters negated, latency in ms, params and flops as counted by
// arch_cost at the run's resolution and batch 1. Each candidate's violation is the sum over the
// given budgets of max(0, value / budget - 1).
//
// With a predicting latency evaluator (relative_error() > 0) and a latency budget, a candidate
// whose prediction lies within relative_error * budget of the budget is also measured, and the
// measurement decides; each generation reports the predictor's error over the candidates it
// measured. At the end every member of the front is measured, the front is recomputed with the
// measured latencies, and that repeats until every member of the front is measured: no front is
// returned that measurement contradicts.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "search/evaluator.hpp"
#include "search/predictor_error.hpp"
#include "supernet/arch.hpp"
#include "supernet/search_space.hpp"

namespace hwnas {

struct SearchConfig {
  // Of "quality" (maximised), "latency", "params", "flops" (minimised), without repeats. One
  // objective is the constrained single-objective mode: its best value under the budgets.
  std::vector<std::string> objectives{"quality", "latency"};
  std::optional<double> latency_budget_ms;  // > 0
  std::optional<double> params_budget;      // > 0, parameters (not millions)
  int population = 16;                      // >= 2
  int generations = 8;                      // offspring generations after generation 0; >= 0
  double mutation_p = 0.15;                 // per choice, in [0, 1]
  double crossover_p = 0.9;                 // in [0, 1]
  std::uint64_t seed = 1;
  std::int64_t resolution = 224;   // one of the space's resolutions
  int early_stop_generations = 0;  // K >= 0; 0 = off
  double early_stop_rel = 1e-3;    // >= 0
};

// Throws InvalidArgument naming the field and value: "search: population=1 must be >= 2".
void check(const SearchConfig& config);

struct Candidate {
  Arch arch;
  std::string hash;  // arch_hash(arch)
  Objectives obj;
  double violation = 0;  // 0 = within every budget
  // In GenerationReport::population and SearchResult::front: the front (0 = best) and crowding
  // distance within the population; in GenerationReport::evaluated of a generation > 0: within
  // the merged parents and offspring that selection ranked. Crowding may be +inf.
  int rank = 0;
  double crowding = 0;
  // "init", "mutation:<parent hash>" or "crossover:<hash>,<hash>" (then mutated).
  std::string origin;
  bool in_population = false;  // survived this generation's selection
};

struct GenerationReport {
  int generation = 0;
  std::vector<Candidate> evaluated;   // generation 0: the initial population; later: the offspring
  std::vector<Candidate> population;  // after selection; a resumed search needs this order
  // Of the population's feasible non-dominated members w.r.t. `reference` (0 when none is
  // feasible), in the minimised objective space.
  double hypervolume = 0;
  // Per objective, minimised (quality negated): reference_point over generation 0's feasible
  // members, or all of them when none is feasible; fixed for the run.
  std::vector<double> reference;
  std::vector<std::string> objectives;  // config.objectives
  int evaluations = 0;                  // candidates in `evaluated`
  int cache_hits = 0;  // of them, answered without computing (run memo, or both evaluators cached)
  int measured_checks = 0;  // measure() calls of predicted candidates near the budget
  std::optional<PredictorError> predictor;  // over those checks, when there were any
};

class SearchObserver {
 public:
  virtual ~SearchObserver() = default;
  // After each generation's selection (generation 0 included). May throw to stop the search.
  virtual void on_generation(const GenerationReport& report) = 0;
  // After each candidate's evaluation: index of count in this generation (for progress).
  virtual void on_evaluation(int /*generation*/, int /*index*/, int /*count*/,
                             const Candidate& /*candidate*/) {}
};

// What a search needs to continue after its last completed generation: that generation's
// reported population in its order, the reference point, and, when early stop is on, the
// hypervolume of each generation 0..completed_generation. `evaluated` (optional: every candidate
// evaluated so far) refills the run's memo, so those are not asked of the evaluators again and
// the reports count them as cache hits, as the uninterrupted run would.
struct ResumePoint {
  int completed_generation = 0;
  std::vector<Candidate> population;
  std::vector<double> reference;
  std::vector<double> hypervolumes;
  std::vector<Candidate> evaluated;
};

struct SearchResult {
  // The feasible non-dominated members of the final population (if none is feasible: the least
  // violating front), one per architecture, ordered by objective vector then hash.
  std::vector<Candidate> front;
  int generations_run = 0;  // the last completed generation
  bool early_stopped = false;
  int final_measured_checks = 0;                  // measurements of front members at the end
  std::optional<PredictorError> final_predictor;  // over those
};

// Throws InvalidArgument for a bad config (check), a resolution not of the space, or a resume
// point that does not fit the config (population size, reference length, generation); Error when
// an evaluator returns a non-finite or non-positive latency or a non-finite quality. Whatever the
// evaluators or the observer throw passes through.
SearchResult run_search(const SearchSpace& space, const SearchConfig& config,
                        LatencyEvaluator& latency, QualityEvaluator& quality,
                        SearchObserver& observer, const std::optional<ResumePoint>& resume = {});

// The minimised objective vector of a candidate under config.objectives.
std::vector<double> objective_vector(const SearchConfig& config, const Objectives& objectives);
// Sum over the given budgets of max(0, value / budget - 1).
double budget_violation(const SearchConfig& config, const Objectives& objectives);
// Per objective the worst value plus 10 % of the range over `points`, or plus 10 % of |worst| when
// the range is 0, or plus 1 when the worst is also 0. `points` must not be empty.
std::vector<double> reference_point(std::span<const std::vector<double>> points);

}  // namespace hwnas
