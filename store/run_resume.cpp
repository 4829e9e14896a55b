// Store::resume_run and Store::measured_keys: continuing a run that a killed or failed process
// left.
#include <fmt/format.h>

#include "store/process_identity.hpp"
#include "store/row_io.hpp"
#include "store/store_state.hpp"

namespace hwnas {

using sqlite::Database;
using sqlite::Statement;
using sqlite::Transaction;
using store_detail::all_rows;
using store_detail::first_row;
using store_detail::read_run;
using store_detail::returning_id;

namespace {

// Only a run that no live process owns changes hands: the status test makes the UPDATE a no-op when
// another process resumed (or this run's owner finished) it since we looked.
constexpr std::string_view kResumeRun = R"sql(
UPDATE runs SET status = 'running', pid = ?3, host = ?4, process_start = ?5, finished_at = NULL,
                drift_rel = NULL, drifted = NULL
WHERE id = ?1 AND kind = ?2 AND status IN ('failed', 'unfinished')
RETURNING id)sql";

constexpr std::string_view kSelectMeasuredKeys =
    "SELECT DISTINCT key FROM measurements WHERE run_id = ?1 ORDER BY key";

}  // namespace

namespace store_detail {

ResumeStatements::ResumeStatements(const Database& db)
    : resume_run(db.prepare(kResumeRun)), select_measured_keys(db.prepare(kSelectMeasuredKeys)) {}

}  // namespace store_detail

RunRow Store::resume_run(std::int64_t run_id, std::string_view kind) {
  State& s = *state_;
  const auto refuse = [&](const std::string& why) {
    return InvalidArgument(fmt::format("store: cannot resume run {}: {}", run_id, why));
  };
  const std::optional<RunRow> before = first_row(s.select_run.bind(1, run_id), read_run);
  if (!before) throw refuse(fmt::format("run {} does not exist", run_id));
  if (before->kind != kind) {
    throw refuse(fmt::format("run {} is a {} run, not {}", run_id, before->kind, kind));
  }
  if (before->status == RunStatus::Running) {
    // As open() does for every run; here for this one, since it may have died after open().
    mark_stale_runs_unfinished();
    const RunRow now = run(run_id).value();  // runs are never deleted
    if (now.status == RunStatus::Running) {
      throw refuse(
          fmt::format("run {} is still running (process {} on host {}, alive or on another "
                      "host, where this process cannot tell)",
                      run_id, now.pid, now.host));
    }
  }
  const ProcessIdentity me = current_process();
  Transaction tx(s.db);
  s.resume.resume_run.bind(1, run_id)
      .bind(2, kind)
      .bind(3, me.pid)
      .bind(4, me.host)
      .bind(5, me.start);
  if (!returning_id(s.resume.resume_run)) {
    const RunRow now = run(run_id).value();
    if (now.status == RunStatus::Finished) {
      throw refuse(fmt::format("run {} is finished; nothing to resume", run_id));
    }
    throw refuse(
        fmt::format("run {} is {} (another process resumed it)", run_id, to_string(now.status)));
  }
  tx.commit();
  return run(run_id).value();
}

std::vector<std::string> Store::measured_keys(std::int64_t run_id) const {
  return all_rows(state_->resume.select_measured_keys.bind(1, run_id),
                  [](const Statement& q) { return q.column_text(0); });
}

}  // namespace hwnas
