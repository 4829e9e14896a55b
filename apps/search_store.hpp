// Where `hwnas search` keeps a search in the store (store/store.hpp, search tables): each completed
// generation in one transaction, the final front, and the ResumePoint a killed search continues
// from. Internal to apps/.
//
//   StoreSearchObserver observer(store, run_id, progress);
//   SearchResult result = run_search(space, config, latency, quality, observer, resume);
//   store.set_front(run_id, front_rows(run_id, result.front));
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "apps/arch_measurement.hpp"
#include "search/search_loop.hpp"
#include "store/store.hpp"

namespace hwnas::cli {

// How a search shows its progress on stderr: one updating line on a terminal, a plain line per
// generation otherwise.
struct SearchProgress {
  bool tty = false;
  int generations = 0;  // the run's last generation (config.generations)
  int population = 0;
};

class StoreSearchObserver final : public SearchObserver {
 public:
  // Keeps a reference to the store, which must outlive it. `first_generation` is the generation the
  // search starts with (0, or the one after a resume point), for the ETA.
  StoreSearchObserver(Store& store, std::int64_t run_id, const SearchProgress& progress,
                      int first_generation);

  // Stores every candidate's arch, then the generation and its evaluated candidates in one
  // transaction: a search killed during the next generation resumes from this one.
  void on_generation(const GenerationReport& report) override;
  void on_evaluation(int generation, int index, int count, const Candidate& candidate) override;

 private:
  Store* store_;
  std::int64_t run_id_;
  SearchProgress progress_;
  int first_generation_;
  std::chrono::steady_clock::time_point start_;
  std::int64_t evaluations_ = 0;
};

// The point a killed or failed search continues from: its last stored generation's population
// (archs rebuilt from the store's canonical JSON and named as stored, objectives from their newest
// candidate row), reference point, every generation's hypervolume, and every candidate evaluated
// so far (the run's memo). nullopt when no generation was completed. Throws IoError when a stored
// row is inconsistent (a population hash without an arch or candidate row).
std::optional<ResumePoint> load_resume_point(const Store& store, std::int64_t run_id);

std::vector<FrontRow> front_rows(std::int64_t run_id, std::span<const Candidate> front);

}  // namespace hwnas::cli
