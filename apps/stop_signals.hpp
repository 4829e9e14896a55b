// SIGINT (Ctrl-C) and SIGTERM as a request to stop a long command between two units of work (a
// sweep's points, a search's candidates), so it marks its run 'unfinished' at once and names the
// --resume that continues it, instead of leaving a 'running' row for the next Store::open to find.
// Internal to apps/.
//
//   const StopSignals signals;
//   for (const Point& p : todo) {
//     if (signals.received() != 0) break;   // then finish the run as Unfinished and say so
//     ...
//   }
//
// The handler only records the signal and resets itself (SA_RESETHAND): a second Ctrl-C kills the
// process as usual, and the next read-write Store::open marks its run unfinished.
#pragma once

#include <csignal>

namespace hwnas::cli {

class StopSignals {
 public:
  // Installs the handlers and forgets any signal an earlier StopSignals recorded. One at a time.
  StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;
  // Restores the handlers that were installed before.
  ~StopSignals();

  // The signal received since construction (SIGINT or SIGTERM), 0 when none.
  int received() const;

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

}  // namespace hwnas::cli
