// Internal to store/: the Store's connection and prepared statements, shared by the .cpp files that
// implement its members (store.cpp, run_resume.cpp, search_rows.cpp, claim_rows.cpp,
// predictor_rows.cpp, merge.cpp). Not part of the store's interface (apps/ never includes it).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "store/arch_rows.hpp"
#include "store/sqlite.hpp"
#include "store/store.hpp"

namespace hwnas::store_detail {

// The run columns every run query selects, in the order read_run reads them.
inline constexpr std::string_view kRunColumns =
    "id, kind, device_id, config_json, status, started_at, finished_at, code_version, "
    "software_json, "
    "drift_rel, drifted, pid, host, uid";

RunRow read_run(const sqlite::Statement& s);
MeasurementRow read_measurement(const sqlite::Statement& s, const std::string& path);

// Continuing a killed run and what a run has already measured (run_resume.cpp).
struct ResumeStatements {
  explicit ResumeStatements(const sqlite::Database& db);
  sqlite::Statement resume_run, select_measured_keys;
};

// search_generations, search_candidates, search_front, quality_scores (search_rows.cpp).
struct SearchStatements {
  explicit SearchStatements(const sqlite::Database& db);
  sqlite::Statement insert_generation, insert_candidate, select_generations, select_candidates,
      select_generation_candidates, delete_front, insert_front, select_front, upsert_quality,
      select_quality;
};

// claim_results (claim_rows.cpp).
struct ClaimStatements {
  explicit ClaimStatements(const sqlite::Database& db);
  sqlite::Statement insert_result, select_results;
};

// predictor_points (predictor_rows.cpp).
struct PredictorStatements {
  explicit PredictorStatements(const sqlite::Database& db);
  sqlite::Statement insert_point, select_points;
};

}  // namespace hwnas::store_detail

namespace hwnas {

struct Store::State {
  State(sqlite::Database database, int schema_version);  // prepares every statement (store.cpp)

  // The message for a run that cannot take a write: it is missing, or no longer running.
  std::string why_run_not_running(std::int64_t run_id);
  // Throws InvalidArgument "store: cannot <what>: run 7 is finished, not running" unless the run
  // exists and is running.
  void require_running(std::int64_t run_id, std::string_view what);

  // Each measurement query reads its rows this way; the path names the file in a decoding error.
  auto measurement_reader() const {
    return
        [this](const sqlite::Statement& q) { return store_detail::read_measurement(q, db.path()); };
  }

  sqlite::Database db;  // declared first: the statements below are prepared on it
  int version;
  sqlite::Statement upsert_device, select_device;
  sqlite::Statement insert_run, finish_run, select_runs, select_run, select_running,
      mark_unfinished;
  sqlite::Statement insert_measurement, select_run_measurements, select_latest_measurement;
  store_detail::ArchStatements arch;      // archs and layer_times (arch_rows.cpp)
  store_detail::ResumeStatements resume;  // run_resume.cpp
  store_detail::SearchStatements search;  // search_rows.cpp
  store_detail::ClaimStatements claims;   // claim_rows.cpp
  store_detail::PredictorStatements predictor;  // predictor_rows.cpp
};

}  // namespace hwnas
