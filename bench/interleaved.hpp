// Interleaved timing: several workloads measured in alternation, A B C A B C ..., so that a change
// of the machine's speed (another process, the clock, a neighbour VM; 15-50 % between minutes on
// a shared machine) falls on all of them alike and cancels in their ratios.
//
//   InterleavedResult r = measure_interleaved(workloads, {.rounds = 10, .policy = round_policy()});
//   double ratio_in_round_3 = r.median_ms(3, b) / r.median_ms(3, a);   // a's speed over b's
//
// A round is one protocol measurement (bench/measure.hpp) of each workload. Round r starts at
// workload r mod n and goes on cyclically, so no workload always runs first (after the idle gap of
// a progress print) or always right after the same neighbour.
#pragma once

#include <cstddef>
#include <functional>
#include <span>
#include <vector>

#include "bench/measure.hpp"

namespace hwnas {

struct InterleavedOptions {
  int rounds = 10;
  MeasurePolicy policy;  // of each measurement within a round
};

// The policy of one measurement in a round: the default protocol with its floors lowered (5
// samples or 0.2 s; a 2 s cap; no re-measuring). Interleaving replaces a long single
// measurement: the spread that matters is between rounds, so many short rounds beat a few long
// ones. A 1 s forward still gets its 5 samples (the floor), so a round costs at least 5 forwards.
MeasurePolicy round_policy();

struct InterleavedResult {
  std::vector<std::vector<Measurement>> rounds;  // [round][workload]
  double median_ms(std::size_t round, std::size_t workload) const {
    return rounds[round][workload].stats.median.count();
  }
};

// Called after each measurement; workload is the index into `workloads`.
using InterleavedCallback =
    std::function<void(int round, std::size_t workload, const Measurement& m)>;

// Throws InvalidArgument for no workloads, rounds < 1 or a bad policy (check(MeasurePolicy));
// exceptions of a workload propagate.
InterleavedResult measure_interleaved(std::span<const std::function<void()>> workloads,
                                      const InterleavedOptions& options,
                                      const InterleavedCallback& on_measurement = {});

}  // namespace hwnas
