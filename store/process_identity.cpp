#include "store/process_identity.hpp"

#include <signal.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <fstream>
#include <sstream>
#include <string_view>
#include <vector>

namespace hwnas {

namespace {

std::string host_name() {
  std::array<char, 256> buf{};
  if (gethostname(buf.data(), buf.size() - 1) != 0) return "unknown";
  return buf.data();
}

std::string first_line(const std::string& file) {
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  return line;
}

struct ProcStat {
  char state = '?';
  std::string start_ticks;
};

// /proc/<pid>/stat is "pid (comm) state ppid ... starttime ...". comm may hold spaces and ')', so the
// fields are counted from the last ')': state is field 3 and starttime field 22 (proc(5)).
bool read_proc_stat(std::int64_t pid, ProcStat& out) {
  const std::string line = first_line("/proc/" + std::to_string(pid) + "/stat");
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream fields(line.substr(close + 1));
  std::vector<std::string> after_comm;
  for (std::string field; fields >> field;) after_comm.push_back(field);
  constexpr std::size_t kStartTime = 22 - 3;  // index of field 22 when field 3 is index 0
  if (after_comm.size() <= kStartTime || after_comm[0].empty()) return false;
  out.state = after_comm[0][0];
  out.start_ticks = after_comm[kStartTime];
  return true;
}

std::string boot_id() { return first_line("/proc/sys/kernel/random/boot_id"); }

// ProcessIdentity::start of the process `stat` describes: unique on this host across reboots.
std::string start_of(const ProcStat& stat) { return boot_id() + "/" + stat.start_ticks; }

}  // namespace

ProcessIdentity current_process() {
  const std::int64_t pid = getpid();
  ProcStat stat;
  const bool have_proc = read_proc_stat(pid, stat) && !boot_id().empty();
  return {.pid = pid, .host = host_name(), .start = have_proc ? start_of(stat) : ""};
}

Liveness liveness(const ProcessIdentity& who) {
  if (who.host != host_name()) return Liveness::Unknown;
  ProcStat stat;
  if (who.start.empty() || !read_proc_stat(who.pid, stat)) {
    // Nothing to compare: no /proc when the run began, or none now, or the entry is hidden from us
    // (hidepid). Fall back on whether the pid exists (EPERM: it does, someone else's), erring towards
    // Alive: a live run wrongly marked unfinished would have its next write refused.
    const bool exists = kill(static_cast<pid_t>(who.pid), 0) == 0 || errno == EPERM;
    return exists ? Liveness::Alive : Liveness::Dead;
  }
  // A killed child that its parent has not reaped yet is a zombie: it will never write again.
  if (stat.state == 'Z' || stat.state == 'X') return Liveness::Dead;
  // Another boot, or the pid reused by a process that started at another time.
  return start_of(stat) == who.start ? Liveness::Alive : Liveness::Dead;
}

}  // namespace hwnas
