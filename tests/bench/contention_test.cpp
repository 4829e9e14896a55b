// The contention probe: its arithmetic on made-up readings, and the real thing - a child process
// spinning on the CPU the test is pinned to must show up as contention, and the timing protocol
// must re-measure and flag it.
#include "bench/contention.hpp"

#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>

#include "bench/measure.hpp"
#include "kernels/error.hpp"

namespace hwnas {
namespace {

CpuTimes reading(std::map<std::int64_t, ThreadTimes> threads, std::uint64_t steal = 0,
                 std::uint64_t all = 0) {
  return {.threads = std::move(threads), .steal_ticks = steal, .all_ticks = all};
}

TEST(Contention, IsTheWaitShareOverEveryThread) {
  const CpuTimes before = reading({{1, {100, 10}}, {2, {50, 0}}});
  const CpuTimes after = reading({{1, {400, 110}}, {2, {250, 100}}});
  // waits 100 + 100, runs 300 + 200
  EXPECT_DOUBLE_EQ(contention_between(before, after), 200.0 / 700.0);
}

TEST(Contention, NewAndReusedThreadsCountFromZero) {
  const CpuTimes before = reading({{1, {100, 0}}, {7, {900, 900}}});
  // thread 3 started in between; tid 7 exited and was reused by a thread with less time.
  const CpuTimes after = reading({{1, {200, 0}}, {3, {60, 40}}, {7, {30, 10}}});
  EXPECT_DOUBLE_EQ(contention_between(before, after), 50.0 / 240.0);
}

TEST(Contention, UnknownWithoutSchedstatOrWithoutTime) {
  EXPECT_TRUE(std::isnan(contention_between(reading({}), reading({{1, {5, 5}}}))));
  EXPECT_TRUE(std::isnan(contention_between(reading({{1, {5, 5}}}), reading({}))));
  EXPECT_TRUE(std::isnan(contention_between(reading({{1, {5, 5}}}), reading({{1, {5, 5}}}))));
}

TEST(Contention, StealCountsOnlyOverEnoughTicksAndIsClamped) {
  const std::map<std::int64_t, ThreadTimes> t0{{1, {0, 0}}};
  const std::map<std::int64_t, ThreadTimes> t1{{1, {900, 100}}};  // 10 % waiting
  EXPECT_DOUBLE_EQ(contention_between(reading(t0, 0, 0), reading(t1, 20, kMinStealTicks)),
                   0.1 + 0.2);
  // Too few ticks to read a share from: steal is left out.
  EXPECT_DOUBLE_EQ(contention_between(reading(t0, 0, 0), reading(t1, 5, kMinStealTicks - 1)), 0.1);
  const std::map<std::int64_t, ThreadTimes> t2{{1, {100, 900}}};
  EXPECT_DOUBLE_EQ(contention_between(reading(t0, 0, 0), reading(t2, 100, kMinStealTicks)), 1.0);
}

TEST(Contention, ReadsThisProcessThreads) {
  // Linux with CONFIG_SCHED_INFO (Debian's kernels, CI's) has /proc/<pid>/task/<tid>/schedstat;
  // without it every contention reads NaN and nothing is ever flagged, which this test would hide.
  const CpuTimes now = read_cpu_times();
  ASSERT_FALSE(now.threads.empty()) << "no /proc/self/task/*/schedstat on this kernel";
  EXPECT_TRUE(now.threads.contains(static_cast<std::int64_t>(gettid())));
  EXPECT_GT(now.all_ticks, 0u);
}

void spin_for(std::chrono::microseconds d) {
  const auto end = std::chrono::steady_clock::now() + d;
  while (std::chrono::steady_clock::now() < end) {
  }
}

// Pins the calling thread (and a forked child) to one CPU for the test's lifetime.
class PinnedCpu {
 public:
  PinnedCpu() {
    sched_getaffinity(0, sizeof(saved_), &saved_);
    for (cpu_ = 0; cpu_ < CPU_SETSIZE && !CPU_ISSET(cpu_, &saved_); ++cpu_) {
    }
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu_, &one);
    ok_ = sched_setaffinity(0, sizeof(one), &one) == 0;
  }
  ~PinnedCpu() { sched_setaffinity(0, sizeof(saved_), &saved_); }
  bool ok() const { return ok_; }

 private:
  cpu_set_t saved_;
  int cpu_ = 0;
  bool ok_ = false;
};

TEST(Contention, AProcessSpinningOnOurCpuIsMeasuredAndFlagged) {
  ASSERT_FALSE(read_cpu_times().threads.empty()) << "no /proc/self/task/*/schedstat on this kernel";
  PinnedCpu pin;
  ASSERT_TRUE(pin.ok());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {  // inherits the pinning: spins on our CPU until killed
    volatile std::uint64_t spins = 0;
    for (;;) spins = spins + 1;
  }
  MeasurePolicy policy;
  policy.min_time_s = 0.2;
  policy.max_time_s = 0.3;
  policy.max_remeasures = 1;
  const Measurement m = measure([] { spin_for(std::chrono::microseconds(200)); }, policy);
  kill(child, SIGKILL);
  waitpid(child, nullptr, 0);
  // The fair scheduler gives each of two spinning tasks half the CPU; anything else on the machine
  // only adds to our wait.
  EXPECT_GT(m.contention, 0.3);
  EXPECT_TRUE(m.contended);
  EXPECT_EQ(m.remeasures, 1) << "re-measured once before flagging";
}

TEST(Contention, MaxContentionIsChecked) {
  for (double bad : {0.0, -0.1, 1.5, std::nan("")}) {
    MeasurePolicy policy;
    policy.max_contention = bad;
    EXPECT_THROW(check(policy), InvalidArgument) << bad;
  }
  MeasurePolicy never;
  never.max_contention = 1.0;
  EXPECT_NO_THROW(check(never));
}

}  // namespace
}  // namespace hwnas
