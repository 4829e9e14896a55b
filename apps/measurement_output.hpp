// How a Measurement (bench/measure.hpp) is written out, the same for every timing subcommand
// (bench-op, bench): its statistics into a store row, its flags, and its statistics as --json
// fields. Internal to apps/ (nlohmann_json stays out of the lower layers' headers).
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "bench/measure.hpp"
#include "bench/op_registry.hpp"
#include "store/store.hpp"

namespace hwnas::cli {

// "not_converged", "high_cv", "contended", "remeasured", comma-separated; empty when none applies.
std::string measurement_flags(const Measurement& m);

// Sets row's min/p10/median/p90/p99/mean/stddev/mad/cv/CI, n, inner_repeats, samples_ms and flags
// from m.
void set_statistics(MeasurementRow& row, const Measurement& m);

// median_ms, p10_ms, p90_ms, p99_ms, min_ms, mean_ms, stddev_ms, mad_ms, cv, ci_low_ms, ci_high_ms,
// samples, repeats, converged, high_cv, contention (null when unknown), contended.
nlohmann::json statistics_json(const Measurement& m);

// Whether a stored flags string ("high_cv,contended") holds `flag` as a whole word.
bool has_flag(std::string_view flags, std::string_view flag);

// One warning line (log::warn under `tag`) when m is flagged contended: what was timed, the share
// of the time other processes had the CPUs, and that the stored row carries the flag.
void warn_if_contended(std::string_view tag, std::string_view what, const Measurement& m);

// "linear:m=1,k=2" -> "hwnas bench-op linear m=1 k=2 --threads N": re-measures exactly this op
// point (bench-op and sweep store it as the row's repro).
std::string op_repro_command(const std::string& key, int threads);

// The store row of one timed op workload (kind op, key, params, cost, impl, repro, statistics).
MeasurementRow op_measurement_row(const Workload& workload, const Measurement& m,
                                  std::int64_t run_id, int threads);

}  // namespace hwnas::cli
