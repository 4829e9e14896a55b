// Helpers shared by the store tests: a scratch directory, a measurement row whose every field differs
// (so a column bound or read in the wrong place cannot round-trip), and an error-message matcher.
#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <ostream>
#include <random>
#include <string>
#include <string_view>

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
