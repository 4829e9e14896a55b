// What every hwnas subcommand shares: thread / database / log options, the engine, the device
// registered in the store, and how a run is begun and finished.
#pragma once

#include <CLI/CLI.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "bench/fingerprint.hpp"
#include "kernels/engine.hpp"
#include "store/store.hpp"

namespace hwnas::cli {

struct CommonOptions {
  std::optional<int> threads;   // absent = every processor this process may run on
  std::string db = "hwnas.db";
};

void add_threads_option(CLI::App& command, CommonOptions& options);
void add_db_option(CLI::App& command, CommonOptions& options);

Engine make_engine(const CommonOptions& options);

struct DeviceContext {
  Fingerprint fingerprint;
  std::int64_t device_id = 0;
};

// Collects the fingerprint, logs the run context and its warnings (debug build, governor), and
// stores the device (once per device; later calls find it).
DeviceContext register_device(Store& store, const Engine& engine);

// The software half of a fingerprint, stored with each run.
std::string software_json(const Fingerprint& fingerprint);

}  // namespace hwnas::cli

namespace hwnas::cli {

// A run row that is 'running' while this object lives: finish() records the outcome; leaving the
// scope without finish() (an exception) marks it 'failed', so no run is left looking alive.
class RunScope {
 public:
  RunScope(Store& store, const RunRow& row) : store_(&store), id_(store.begin_run(row)) {}
  // Continues a run a killed or failed process left (Store::resume_run: throws InvalidArgument for
  // a missing, finished, live or other-kind run); `resumed` is its row as the store now holds it.
  struct Resume {
    std::int64_t run_id = 0;
    std::string_view kind;
  };
  RunScope(Store& store, const Resume& resume)
      : store_(&store), resumed_(store.resume_run(resume.run_id, resume.kind)), id_(resumed_->id) {}
  RunScope(const RunScope&) = delete;
  RunScope& operator=(const RunScope&) = delete;
  ~RunScope();

  std::int64_t id() const { return id_; }
  const std::optional<RunRow>& resumed() const { return resumed_; }
  void finish(RunStatus status, std::optional<RunDrift> drift = std::nullopt);

 private:
  Store* store_;
  std::optional<RunRow> resumed_;
  std::int64_t id_;
  bool finished_ = false;
};

}  // namespace hwnas::cli
