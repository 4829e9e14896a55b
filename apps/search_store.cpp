#include "apps/search_store.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "bench/log.hpp"
#include "kernels/error.hpp"

namespace hwnas::cli {
namespace {

// The stored name of an objective says in which direction its reference coordinate runs: the
// search minimises, so quality enters negated.
std::string stored_objective(const std::string& name) {
  if (name == "quality") return "neg_quality";
  if (name == "latency") return "latency_ms";
  return name;
}

// The search's origin ("init", "mutation:<hash>", "crossover:<hash>,<hash>") as the stored
// parents ("", "<hash>", "<hash>,<hash>"), and back.
std::string parents_of(std::string_view origin) {
  const std::size_t colon = origin.find(':');
  return colon == std::string_view::npos ? std::string() : std::string(origin.substr(colon + 1));
}

std::string origin_of(const CandidateRow& row) {
  if (row.origin == "initial") return "init";
  if (row.parents.empty()) return "offspring";  // stored before schema version 6
  return fmt::format("{}:{}", row.parents.find(',') == std::string::npos ? "mutation" : "crossover",
                     row.parents);
}

CandidateRow candidate_row(std::int64_t run_id, int generation, std::size_t idx,
                           const Candidate& c) {
  return {.run_id = run_id,
          .generation = generation,
          .idx = static_cast<std::int64_t>(idx),
          .arch_hash = c.hash,
          .origin = generation == 0 ? "initial" : "offspring",
          .latency_ms = c.obj.latency_ms,
          .latency_source = c.obj.latency_source,
          .predicted_ms = c.obj.predicted_ms,
          .quality = c.obj.quality,
          .quality_source = c.obj.quality_source,
          .params = c.obj.params,
          .flops = c.obj.flops,
          .violation = c.violation,
          .rank = c.rank,
          .crowding = c.crowding,
          .in_population = c.in_population,
          .parents = generation == 0 ? std::string() : parents_of(c.origin)};
}

Candidate from_row(const CandidateRow& row, Arch arch) {
  Candidate c;
  c.arch = std::move(arch);
  c.hash = row.arch_hash;
  c.obj = {.latency_ms = row.latency_ms,
           .latency_source = row.latency_source,
           .predicted_ms = row.predicted_ms,
           .quality = row.quality,
           .quality_source = row.quality_source,
           .params = row.params,
           .flops = row.flops};
  c.violation = row.violation;
  c.rank = static_cast<int>(row.rank);
  c.crowding = row.crowding;
  c.origin = origin_of(row);
  c.in_population = row.in_population;
  return c;
}

std::string duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<long>(std::lround(seconds));
  if (s >= 3600) return fmt::format("{}h{:02}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m{:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace

StoreSearchObserver::StoreSearchObserver(Store& store, std::int64_t run_id,
                                         const SearchProgress& progress, int first_generation)
    : store_(&store),
      run_id_(run_id),
      progress_(progress),
      first_generation_(first_generation),
      start_(std::chrono::steady_clock::now()) {}

void StoreSearchObserver::on_evaluation(int generation, int index, int count,
                                        const Candidate& candidate) {
  ++evaluations_;
  if (!progress_.tty) return;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // Every generation evaluates `population` candidates (cache hits are fast, so this is an upper
  // bound once the search starts repeating itself).
  const double total = static_cast<double>(progress_.generations - first_generation_ + 1) *
                       progress_.population;
  const double eta = elapsed / static_cast<double>(evaluations_) *
                     (total - static_cast<double>(evaluations_));
  std::fprintf(stderr,
               "\r[search] generation %d/%d  candidate %d/%d  %.3f ms (%s)  quality %.4g  "
               "elapsed %s  eta %s\033[K",
               generation, progress_.generations, index + 1, count, candidate.obj.latency_ms,
               candidate.obj.latency_source.c_str(), candidate.obj.quality,
               duration(elapsed).c_str(), duration(eta).c_str());
}

void StoreSearchObserver::on_generation(const GenerationReport& report) {
  for (const Candidate& c : report.evaluated) store_->upsert_arch(arch_row(c.arch, c.hash));
  GenerationRow row{.run_id = run_id_,
                    .generation = report.generation,
                    .hypervolume = report.hypervolume,
                    .reference = report.reference,
                    .evaluations = report.evaluations,
                    .cache_hits = report.cache_hits,
                    .measured_checks = report.measured_checks};
  for (const Candidate& c : report.population) row.population.push_back(c.hash);
  for (const std::string& name : report.objectives) row.objectives.push_back(stored_objective(name));
  if (report.predictor) {
    row.pred_n = static_cast<std::int64_t>(report.predictor->n);
    // Stored as fractions, like the within shares.
    row.pred_mape = report.predictor->mape_pct / 100;
    row.pred_within5 = report.predictor->within_5pct;
    row.pred_within10 = report.predictor->within_10pct;
    row.pred_kendall_tau = report.predictor->kendall_tau;
  }
  std::vector<CandidateRow> rows;
  for (std::size_t i = 0; i < report.evaluated.size(); ++i) {
    rows.push_back(candidate_row(run_id_, report.generation, i, report.evaluated[i]));
  }
  store_->add_generation(row, rows);

  int front = 0;
  for (const Candidate& c : report.population) front += (c.rank == 0 && c.violation == 0) ? 1 : 0;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (progress_.tty) std::fprintf(stderr, "\r\033[K");
  std::string predictor;
  if (report.predictor) {
    predictor = fmt::format(", predictor MAPE {:.1f}% on {} checks", report.predictor->mape_pct,
                            report.predictor->n);
  }
  log::info("search", "generation {}/{}: {} evaluated ({} cached), {} feasible on the front, "
            "hypervolume {:.6g}{}, elapsed {}",
            report.generation, progress_.generations, report.evaluations, report.cache_hits, front,
            report.hypervolume, predictor, duration(elapsed));
}

std::optional<ResumePoint> load_resume_point(const Store& store, std::int64_t run_id) {
  const std::vector<GenerationRow> generations = store.generations(run_id);
  if (generations.empty()) return std::nullopt;
  ResumePoint point;
  point.completed_generation = static_cast<int>(generations.back().generation);
  point.reference = generations.back().reference;
  for (const GenerationRow& g : generations) point.hypervolumes.push_back(g.hypervolume);

  // Every candidate evaluated so far, once per architecture (its first evaluation is the one the
  // run's memo kept), and the newest row of each for the population's standing.
  std::map<std::string, Arch, std::less<>> archs;
  std::map<std::string, CandidateRow, std::less<>> newest;
  for (const CandidateRow& row : store.candidates(run_id)) {
    if (!archs.contains(row.arch_hash)) {
      const std::optional<ArchRow> stored = store.arch(row.arch_hash);
      if (!stored) {
        throw IoError(fmt::format("search run {}: candidate arch {} is not in the store", run_id,
                                  row.arch_hash));
      }
      Arch arch = parse_arch(stored->canonical_json, fmt::format("archs[{}]", row.arch_hash));
      // The canonical JSON holds no name, and the latency evaluators store an arch under its
      // name when they measure it (a lut search measures its final front): the stored one.
      arch.name = stored->name;
      archs.emplace(row.arch_hash, arch);
      point.evaluated.push_back(from_row(row, std::move(arch)));
    }
    newest.insert_or_assign(row.arch_hash, row);
  }
  for (const std::string& hash : generations.back().population) {
    const auto it = newest.find(hash);
    if (it == newest.end()) {
      throw IoError(fmt::format(
          "search run {}: population member {} of generation {} has no candidate row", run_id, hash,
          point.completed_generation));
    }
    point.population.push_back(from_row(it->second, archs.at(hash)));
  }
  return point;
}

std::vector<FrontRow> front_rows(std::int64_t run_id, std::span<const Candidate> front) {
  std::vector<FrontRow> rows;
  for (std::size_t i = 0; i < front.size(); ++i) {
    const Candidate& c = front[i];
    rows.push_back({.run_id = run_id,
                    .idx = static_cast<std::int64_t>(i),
                    .arch_hash = c.hash,
                    .latency_ms = c.obj.latency_ms,
                    .latency_source = c.obj.latency_source,
                    .predicted_ms = c.obj.predicted_ms,
                    .quality = c.obj.quality,
                    .quality_source = c.obj.quality_source,
                    .params = c.obj.params,
                    .flops = c.obj.flops});
  }
  return rows;
}

}  // namespace hwnas::cli
