#include "apps/cli_common.hpp"

#include <nlohmann/json.hpp>

#include "bench/log.hpp"

namespace hwnas::cli {

void add_threads_option(CLI::App& command, CommonOptions& options) {
  command.add_option("--threads", options.threads,
                     "threads to run on (default: every processor this process may use)");
}

void add_db_option(CLI::App& command, CommonOptions& options) {
  command.add_option("--db", options.db, "SQLite database file")->capture_default_str();
}

Engine make_engine(const CommonOptions& options) {
  return Engine::cpu({.threads = options.threads.value_or(available_processors())});
}

DeviceContext register_device(Store& store, const Engine& engine) {
  DeviceContext context{.fingerprint = collect_fingerprint(engine)};
  const Fingerprint& fp = context.fingerprint;
  log::info("context", "cpu=\"{}\" isa={} cores={} threads={} affinity={} onednn={} ({}) build={} commit={}",
            fp.cpu_model, fp.isa, fp.cores, fp.threads, fp.affinity, fp.onednn_version, fp.onednn_source,
            fp.build_type, fp.code_version);
  for (const std::string& warning : warnings(fp)) log::warn("context", "{}", warning);
  context.device_id = store.upsert_device(device_key(fp), fingerprint_to_json(fp));
  return context;
}

std::string software_json(const Fingerprint& fp) {
  return nlohmann::json{{"onednn_version", fp.onednn_version}, {"onednn_source", fp.onednn_source},
                        {"compiler", fp.compiler},             {"build_type", fp.build_type},
                        {"build_flags", fp.build_flags},       {"threads", fp.threads},
                        {"affinity", fp.affinity},             {"governor", fp.governor}}
      .dump();
}

}  // namespace hwnas::cli

namespace hwnas::cli {

void RunScope::finish(RunStatus status, std::optional<RunDrift> drift) {
  store_->finish_run(id_, status, drift);
  finished_ = true;
}

RunScope::~RunScope() {
  if (finished_) return;
  try {
    store_->finish_run(id_, RunStatus::Failed);
  } catch (const Error& e) {  // a destructor must not throw; the run stays 'running' and is marked
    log::warn("store", "could not mark run {} failed: {}", id_, e.what());  // unfinished on next open
  }
}

}  // namespace hwnas::cli
