#include "bench/drift.hpp"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/error.hpp"

namespace hwnas {

namespace {

// ~3 ms of multiply-add chains and ~2 ms of copies on the machine this was written on (a 2-core Zen 5
// VM, -O3); on any machine the point is that the amount of work never changes.
constexpr int kChains = 8;            // independent chains: enough to hide the add latency
constexpr int kChainSteps = 3 << 19;
constexpr std::size_t kCopyBytes = std::size_t{256} << 10;
constexpr int kCopies = 1024;

// The fixed workload, with its copy buffers allocated once, outside the timed calls.
class ReferenceKernel {
 public:
  ReferenceKernel() : a_(kCopyBytes, std::byte{1}), b_(kCopyBytes, std::byte{2}) {}

  void run() noexcept {
    std::array<double, kChains> acc{};
    for (int c = 0; c < kChains; ++c) acc[static_cast<std::size_t>(c)] = c;
    // x -> 0.999 x + 0.001 converges to 1 and stays normal: no denormal slow path, no overflow.
    for (int step = 0; step < kChainSteps; ++step) {
      for (double& x : acc) x = x * 0.999 + 0.001;
    }
    for (int i = 0; i < kCopies; ++i) {
      // Alternate the direction so each copy reads what the previous one wrote, and tell the compiler
      // the memory was used, so it keeps every copy.
      std::byte* src = i % 2 ? b_.data() : a_.data();
      std::byte* dst = i % 2 ? a_.data() : b_.data();
      std::memcpy(dst, src, kCopyBytes);
      asm volatile("" : : "r"(dst) : "memory");
    }
    double sum = 0;
    for (const double x : acc) sum += x;
    sink_ = sum;
  }

 private:
  std::vector<std::byte> a_, b_;
  volatile double sink_ = 0;  // keeps the chains' results alive
};

}  // namespace

Milliseconds time_drift_reference(const MeasurePolicy& policy) {
  ReferenceKernel kernel;
  return measure([&] { kernel.run(); }, policy).stats.median;
}

DriftCheck compare_drift(Milliseconds before, Milliseconds after, double threshold) {
  if (!(before.count() > 0) || !(after.count() > 0)) {
    throw InvalidArgument(fmt::format("drift: before={} and after={} must both be > 0 ms", before.count(),
                                      after.count()));
  }
  if (!(threshold > 0)) throw InvalidArgument(fmt::format("drift: threshold={} must be > 0", threshold));
  const double change = (after - before) / before;
  return {.before = before,
          .after = after,
          .relative_change = change,
          .threshold = threshold,
          .drifted = std::abs(change) > threshold};
}

DriftMonitor DriftMonitor::start(const MeasurePolicy& policy) {
  check(policy);
  return DriftMonitor(policy, time_drift_reference(policy));
}

DriftCheck DriftMonitor::finish(double threshold) const {
  return compare_drift(before_, time_drift_reference(policy_), threshold);
}

}  // namespace hwnas
