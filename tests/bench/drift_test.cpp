#include "bench/drift.hpp"

#include <gtest/gtest.h>

#include "kernels/error.hpp"

namespace hwnas {
namespace {

using std::chrono::duration;

TEST(Drift, CompareByHand) {
  // (5.4 - 5) / 5 = +8 %: within 10 %.
  const DriftCheck small = compare_drift(Milliseconds(5.0), Milliseconds(5.4));
  EXPECT_NEAR(small.relative_change, 0.08, 1e-12);
  EXPECT_FALSE(small.drifted);
  EXPECT_EQ(small.threshold, kDefaultDriftThreshold);
  // +12 %: slower, drifted.
  EXPECT_TRUE(compare_drift(Milliseconds(5.0), Milliseconds(5.6)).drifted);
  // -12 %: faster is drift too (a turbo that kicked in, a neighbour that left).
  const DriftCheck faster = compare_drift(Milliseconds(5.0), Milliseconds(4.4));
  EXPECT_NEAR(faster.relative_change, -0.12, 1e-12);
  EXPECT_TRUE(faster.drifted);
  // A stricter threshold.
  EXPECT_TRUE(compare_drift(Milliseconds(5.0), Milliseconds(5.2), 0.02).drifted);
  EXPECT_FALSE(compare_drift(Milliseconds(5.0), Milliseconds(5.2), 0.05).drifted);
}

TEST(Drift, BadInputsNameTheValue) {
  const auto expect_invalid = [](Milliseconds before, Milliseconds after, double threshold, const std::string& text) {
    try {
      compare_drift(before, after, threshold);
      FAIL() << "expected InvalidArgument containing " << text;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_invalid(Milliseconds(0), Milliseconds(5), 0.1, "before=0 and after=5 must both be > 0");
  expect_invalid(Milliseconds(5), Milliseconds(-1), 0.1, "after=-1");
  expect_invalid(Milliseconds(5), Milliseconds(5), 0, "threshold=0 must be > 0");
}

// Sanity only: the reference is ~5 ms on the machine it was tuned on; a debug build or a loaded or
// slow machine may take several times that, so no timing is asserted beyond the order of magnitude.
TEST(Drift, ReferenceKernelTakesMilliseconds) {
  const Milliseconds t = time_drift_reference(MeasurePolicy::quick());
  EXPECT_GT(t.count(), 0.2);
  EXPECT_LT(t.count(), 200.0);
}

TEST(Drift, MonitorComparesBeforeWithAfter) {
  const DriftMonitor monitor = DriftMonitor::start(MeasurePolicy::quick());
  const DriftCheck check = monitor.finish(0.5);
  EXPECT_EQ(check.before, monitor.before());
  EXPECT_GT(check.after.count(), 0.0);
  EXPECT_NEAR(check.relative_change, (check.after - check.before) / check.before, 1e-12);
  EXPECT_EQ(check.drifted, std::abs(check.relative_change) > 0.5);
}

}  // namespace
}  // namespace hwnas
