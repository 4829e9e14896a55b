// Helpers shared by the store tests: a scratch directory, a measurement row whose every field differs
// (so a column bound or read in the wrong place cannot round-trip), and an error-message matcher.
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "store/store.hpp"

namespace hwnas {

// gtest prints these in failure messages (found by argument-dependent lookup, so in namespace hwnas).
inline void PrintTo(RunStatus status, std::ostream* os) { *os << to_string(status); }
inline void PrintTo(const RunRow& r, std::ostream* os) {
  *os << "run " << r.id << " kind=" << r.kind << " status=" << to_string(r.status) << " pid=" << r.pid;
}
inline void PrintTo(const MeasurementRow& r, std::ostream* os) {
  *os << "measurement " << r.id << " run=" << r.run_id << " key=" << r.key << " median_ms=" << r.median_ms
      << " n=" << r.n << " created_at=" << r.created_at;
}

}  // namespace hwnas

namespace hwnas::testing {

// A fresh directory under the system temp dir, removed with everything in it (the -wal and -shm files
// beside a database included).
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("hwnas_store_test_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  std::string file(std::string_view name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A plausible measurement of `key` with random, pairwise different values in every field the caller
// sets (ids and created_at are left to the store).
inline MeasurementRow random_measurement(std::int64_t run_id, std::string key, std::mt19937_64& rng,
                                         int n_samples = 7) {
  std::uniform_real_distribution<double> ms(0.01, 100.0);
  std::uniform_int_distribution<std::int64_t> small(2, 64);
  MeasurementRow r{.run_id = run_id,
                   .kind = MeasurementKind::Op,
                   .key = std::move(key),
                   .params_json = R"({"m":3136,"k":96})",
                   .shapes = "src=[3136,96] dst=[3136,384]",
                   .threads = small(rng),
                   .dtype = "f32",
                   .batch = small(rng) + 100,
                   .impl = "brg:avx512_core",
                   .flops = ms(rng) * 1e9,
                   .bytes = ms(rng) * 1e6,
                   .min_ms = ms(rng),
                   .p10_ms = ms(rng),
                   .median_ms = ms(rng),
                   .p90_ms = ms(rng),
                   .p99_ms = ms(rng),
                   .mean_ms = ms(rng),
                   .stddev_ms = ms(rng),
                   .mad_ms = ms(rng),
                   .cv = ms(rng) / 100.0,
                   .ci_low_ms = ms(rng),
                   .ci_high_ms = ms(rng),
                   .n = n_samples,
                   .inner_repeats = small(rng) + 1000,
                   .repro = "hwnas bench-op linear m=3136 k=96 n=384 --threads 4",
                   .flags = "high_cv,remeasured"};
  for (int i = 0; i < n_samples; ++i) r.samples_ms.push_back(ms(rng));
  return r;
}

// Search rows with random values in every field (the arch hashes are the caller's, already stored).
inline GenerationRow random_generation(std::int64_t run_id, std::int64_t generation,
                                       std::vector<std::string> population, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.0, 1.0);
  std::uniform_int_distribution<std::int64_t> count(3, 40);
  const std::int64_t evaluations = count(rng);
  return {.run_id = run_id,
          .generation = generation,
          .population = std::move(population),
          .hypervolume = u(rng) * 50,
          .reference = {u(rng) * 100, -u(rng)},
          .objectives = {"latency_ms", "neg_quality"},
          .evaluations = evaluations,
          .cache_hits = evaluations / 3,
          .measured_checks = count(rng) + 100,
          .pred_n = count(rng) + 200,
          .pred_mape = u(rng) * 0.2,
          .pred_within5 = u(rng),
          .pred_within10 = u(rng),
          .pred_kendall_tau = u(rng) * 2 - 1};
}

inline CandidateRow random_candidate(std::int64_t run_id, std::int64_t generation, std::int64_t idx,
                                     std::string arch_hash, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.01, 1.0);
  std::uniform_int_distribution<std::int64_t> rank(0, 5);
  const bool initial = u(rng) < 0.5;
  const std::string parents = initial        ? ""
                              : u(rng) < 0.5 ? "0123456789abcdef"
                                             : "0123456789abcdef,fedcba9876543210";
  return {.run_id = run_id,
          .generation = generation,
          .idx = idx,
          .arch_hash = std::move(arch_hash),
          .origin = initial ? "initial" : "offspring",
          .latency_ms = u(rng) * 30,
          .latency_source = "lut",
          .predicted_ms = u(rng) * 30,
          .quality = u(rng) * 1000 - 500,
          .quality_source = "naswot",
          .params = u(rng) * 3e7,
          .flops = u(rng) * 5e9,
          .violation = u(rng) < 0.5 ? 0.0 : u(rng) * 4,
          .rank = rank(rng),
          .crowding = u(rng) * 3,
          .in_population = u(rng) < 0.5,
          .parents = parents};
}

inline FrontRow random_front_row(std::int64_t run_id, std::int64_t idx, std::string arch_hash,
                                 std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u(0.01, 1.0);
  return {.run_id = run_id,
          .idx = idx,
          .arch_hash = std::move(arch_hash),
          .latency_ms = u(rng) * 30,
          .latency_source = "measured",
          .predicted_ms = u(rng) * 30,
          .quality = u(rng) * 100,
          .quality_source = "naswot",
          .params = u(rng) * 3e7,
          .flops = u(rng) * 5e9};
}

// Every field as text (doubles in their shortest exact form, NaN as "nan"), so rows holding NaN
// compare equal when they hold the same values.
inline std::string fields(const GenerationRow& r) {
  return fmt::format("{} {} {} [{}] {} [{}] [{}] {} {} {} {} {} {} {} {}", r.run_id, r.generation,
                     r.created_at, fmt::join(r.population, ","), r.hypervolume,
                     fmt::join(r.reference, ","), fmt::join(r.objectives, ","), r.evaluations,
                     r.cache_hits, r.measured_checks, r.pred_n, r.pred_mape, r.pred_within5,
                     r.pred_within10, r.pred_kendall_tau);
}
inline std::string fields(const CandidateRow& r) {
  return fmt::format("{} {} {} {} {} {} {} {} {} {} {} {} {} {} {} {}", r.run_id, r.generation,
                     r.idx, r.arch_hash, r.origin, r.latency_ms, r.latency_source, r.predicted_ms,
                     r.quality, r.quality_source, r.params, r.flops, r.violation, r.rank,
                     r.crowding, r.in_population);
}
inline std::string fields(const FrontRow& r) {
  return fmt::format("{} {} {} {} {} {} {} {} {} {}", r.run_id, r.idx, r.arch_hash, r.latency_ms,
                     r.latency_source, r.predicted_ms, r.quality, r.quality_source, r.params,
                     r.flops);
}
template <class Row>
std::vector<std::string> fields(const std::vector<Row>& rows) {
  std::vector<std::string> out;
  for (const Row& r : rows) out.push_back(fields(r));
  return out;
}

// Success when f() throws E whose message contains `substring`.
template <class E, class F>
::testing::AssertionResult throws_with(F&& f, std::string_view substring) {
  try {
    f();
  } catch (const E& e) {
    const std::string what = e.what();
    if (what.find(substring) != std::string::npos) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "message \"" << what << "\" lacks \"" << substring << "\"";
  }
  return ::testing::AssertionFailure() << "nothing was thrown; expected \"" << substring << "\"";
}

}  // namespace hwnas::testing
