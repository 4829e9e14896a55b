// CPU contention during a measurement: the share of the time this process's threads wanted a CPU
// and did not have it, because another process (or the hypervisor) had it.
//
// Why: on a shared machine a second process on our cores does not make samples noisy in a way the
// CV rule catches. When a small op shares its cores with another busy process, every sample grows
// by a multiple of the scheduler tick (0.23 ms becomes 16 ms, bench/RESULTS.md), so the samples
// agree with each other and the median is stable and wrong. A lookup table filled in that state is
// wrong for good. The scheduler knows exactly how long each of our threads waited: Linux keeps, per
// thread, the time on a CPU and the time runnable but waiting on a run queue
// (/proc/<pid>/task/<tid>/schedstat, nanoseconds). On a virtual machine the hypervisor's share is
// /proc/stat's steal time, counted on the CPUs this process may run on.
//
//   contention = wait / (run + wait) + steal / (all time of those CPUs)     (clamped to [0, 1])
//
// summed over every thread of the process (OpenMP workers included), so it needs no idea of how
// many threads the workload uses. Threads that sleep count neither way. A kernel without schedstat
// gives NaN (unknown), never a false alarm.
#pragma once

#include <cstdint>
#include <map>

namespace hwnas {

// Above this share the measurement is re-taken and, if it stays above, flagged "contended".
// A quiet machine's daemons and kernel threads stay below 1 %; another process busy on our cores
// takes 30-50 %.
inline constexpr double kDefaultMaxContention = 0.10;

struct ThreadTimes {
  std::uint64_t run_ns = 0;   // on a CPU
  std::uint64_t wait_ns = 0;  // runnable, waiting on a run queue
};

struct CpuTimes {
  std::map<std::int64_t, ThreadTimes> threads;  // by tid; empty: no schedstat on this kernel
  std::uint64_t steal_ticks = 0;                // /proc/stat, over the CPUs of the affinity mask
  std::uint64_t all_ticks = 0;
};

// Below this many ticks (USER_HZ, 10 ms) of the CPUs' time, the steal share is too coarse to
// count: one tick of 20 would read as 5 %.
inline constexpr std::uint64_t kMinStealTicks = 100;

// The process's current totals. Cheap (a few /proc reads per thread); never throws.
CpuTimes read_cpu_times();

// The contention between two readings of the same process (see the file comment); NaN when either
// is invalid or no thread ran or waited in between. Threads that appeared in between count from
// zero; threads that exited in between are lost (their share is small and only makes it lower).
double contention_between(const CpuTimes& before, const CpuTimes& after);

}  // namespace hwnas
