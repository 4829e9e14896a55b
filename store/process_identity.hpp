// Who began a run, recorded precisely enough that another process can later tell whether it is still
// alive. A pid alone is not enough: pids are reused, and a rebooted machine starts counting again. On
// Linux a process is named by (host, boot id, pid, start time in clock ticks since boot), all from
// /proc; elsewhere only (host, pid) is known and liveness falls back to kill(pid, 0).
#pragma once

#include <cstdint>
#include <string>

namespace hwnas {

struct ProcessIdentity {
  std::int64_t pid = 0;
  std::string host;   // gethostname(): a pid means nothing on another machine (or container)
  std::string start;  // "<boot id>/<start ticks>", or "" where /proc is not available
  friend bool operator==(const ProcessIdentity&, const ProcessIdentity&) = default;
};

// The calling process, read afresh on each call (a fork()ed child must not inherit its parent's).
ProcessIdentity current_process();

enum class Liveness {
  Alive,
  Dead,     // exited, a zombie, or its pid now belongs to a process that started later
  Unknown,  // it ran on another host: nothing here can tell
};

Liveness liveness(const ProcessIdentity& who);

}  // namespace hwnas
