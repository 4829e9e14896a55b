// The store row of an Arch timed end to end, the same for `hwnas bench` and the measured-latency
// evaluator, so a search's cache and a bench run write and find the same rows.
#pragma once

#include <cstdint>
#include <string>

#include "bench/arch_timing.hpp"
#include "bench/measure.hpp"
#include "store/store.hpp"

namespace hwnas::cli {

// kind Arch, key p.key, params_json {name, arch_hash, batch, res, params, seed, weights} from p and
// its options, impl "subnet", flops and bytes of one forward of the batch, every statistic of m.
MeasurementRow arch_measurement_row(const PreparedArch& p, const Measurement& m,
                                    std::int64_t run_id, int threads, std::string repro);

// The archs row of an Arch: its canonical JSON, named as the Arch is, or "subnet-<hash>" when it
// has no name (a sampled or rebuilt subnet): the store refuses an unnamed row.
ArchRow arch_row(const Arch& arch, const std::string& hash);

}  // namespace hwnas::cli
