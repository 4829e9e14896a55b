#include "bench/contention.hpp"

#include <sched.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <system_error>

namespace hwnas {
namespace {

// /proc/stat's "cpuN user nice system idle iowait irq softirq steal ..." lines for the CPUs this
// process may run on. Guest time is already inside user, so the first eight fields are all time.
void read_steal(const cpu_set_t& allowed, CpuTimes& out) {
  std::ifstream stat("/proc/stat");
  std::string line;
  while (std::getline(stat, line)) {
    if (line.rfind("cpu", 0) != 0 || line.size() < 4 || line[3] < '0' || line[3] > '9') continue;
    std::istringstream fields(line.substr(3));
    int cpu = -1;
    fields >> cpu;
    if (cpu < 0 || cpu >= CPU_SETSIZE || !CPU_ISSET(cpu, &allowed)) continue;
    std::uint64_t value = 0;
    for (int i = 0; i < 8 && fields >> value; ++i) {
      out.all_ticks += value;
      if (i == 7) out.steal_ticks += value;
    }
  }
}

}  // namespace

CpuTimes read_cpu_times() {
  CpuTimes out;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    const std::string name = entry.path().filename().string();
    char* end = nullptr;
    const long long tid = std::strtoll(name.c_str(), &end, 10);
    if (end == name.c_str() || *end != '\0') continue;
    std::ifstream schedstat(entry.path() / "schedstat");
    ThreadTimes t;
    if (schedstat >> t.run_ns >> t.wait_ns) out.threads.emplace(tid, t);
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof(allowed), &allowed) == 0) read_steal(allowed, out);
  return out;
}

double contention_between(const CpuTimes& before, const CpuTimes& after) {
  constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();
  if (before.threads.empty() || after.threads.empty()) return kUnknown;
  double run = 0;
  double wait = 0;
  for (const auto& [tid, now] : after.threads) {
    ThreadTimes then;  // a thread started in between counts from zero
    if (const auto it = before.threads.find(tid); it != before.threads.end()) then = it->second;
    // A tid reused by a new thread can read lower than its predecessor: count it from zero.
    if (now.run_ns < then.run_ns || now.wait_ns < then.wait_ns) then = {};
    run += static_cast<double>(now.run_ns - then.run_ns);
    wait += static_cast<double>(now.wait_ns - then.wait_ns);
  }
  if (run + wait <= 0) return kUnknown;
  double share = wait / (run + wait);
  if (after.all_ticks >= before.all_ticks + kMinStealTicks &&
      after.steal_ticks >= before.steal_ticks) {
    share += static_cast<double>(after.steal_ticks - before.steal_ticks) /
             static_cast<double>(after.all_ticks - before.all_ticks);
  }
  return std::clamp(share, 0.0, 1.0);
}

}  // namespace hwnas
