#include "bench/roofline.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>

#include "kernels/error.hpp"

namespace hwnas {
namespace {

// A hand-made device: 1000 GFLOP/s peak; 400 / 200 / 50 GB/s from L2 (2 MiB), L3 (32 MiB), DRAM.
Roofline hand_made() {
  return {.threads = 2,
          .peak_isa = "avx512f",
          .peak_gflops = 1000,
          .matmul_gflops = 800,
          .l2_gbps = 400,
          .l3_gbps = 200,
          .dram_gbps = 50,
          .l2_capacity_bytes = 2 << 20,
          .l3_capacity_bytes = 32 << 20};
}

constexpr double kMiB = 1 << 20;

TEST(Roofline, AttainableByHand) {
  const Roofline r = hand_made();
  // Intensity 1 FLOP/byte: bandwidth bound at every level; the level is picked by the working set.
  EXPECT_DOUBLE_EQ(attainable_gflops(r, 1e6, 1e6, 1 * kMiB), 400.0);
  EXPECT_DOUBLE_EQ(attainable_gflops(r, 1e6, 1e6, 2 * kMiB), 400.0);  // exactly the capacity still fits
  EXPECT_DOUBLE_EQ(attainable_gflops(r, 1e6, 1e6, 2 * kMiB + 1), 200.0);
  EXPECT_DOUBLE_EQ(attainable_gflops(r, 1e6, 1e6, 16 * kMiB), 200.0);
  EXPECT_DOUBLE_EQ(attainable_gflops(r, 1e6, 1e6, 1024 * kMiB), 50.0);
  // Intensity 0.25 from DRAM: 12.5 GFLOP/s.
  EXPECT_DOUBLE_EQ(attainable_gflops(r, 1e6, 4e6, 1024 * kMiB), 12.5);
  // Intensity 1000: compute bound, the peak.
  EXPECT_DOUBLE_EQ(attainable_gflops(r, 1e9, 1e6, 1 * kMiB), 1000.0);
  // The ridge point from DRAM is 1000 / 50 = 20 FLOP/byte.
  EXPECT_DOUBLE_EQ(attainable_gflops(r, 20e6, 1e6, 1024 * kMiB), 1000.0);
  // No bytes: compute bound.
  EXPECT_DOUBLE_EQ(attainable_gflops(r, 1e6, 0, 0), 1000.0);
}

TEST(Roofline, UnknownCapacitiesFallThroughToDram) {
  Roofline r = hand_made();
  r.l2_capacity_bytes = 0;
  r.l3_capacity_bytes = 0;
  EXPECT_DOUBLE_EQ(attainable_gflops(r, 1e6, 1e6, 1024), 50.0);
}

TEST(Roofline, FractionByHand) {
  const Roofline r = hand_made();
  // 2 MFLOP in 0.01 ms = 200 GFLOP/s; intensity 2 from L2 allows min(1000, 2 * 400) = 800.
  const OpCost cost{.flops = 2e6, .bytes = 1e6};
  EXPECT_DOUBLE_EQ(achieved_gflops(cost.flops, Milliseconds(0.01)), 200.0);
  EXPECT_DOUBLE_EQ(roofline_fraction(r, cost, Milliseconds(0.01), 1 * kMiB), 0.25);
  // Claimed DRAM-sized: attainable min(1000, 2 * 50) = 100, so 200 achieved is 2.0. Above 1 means
  // the data came from a faster level than claimed; the fraction reports it rather than clamping.
  EXPECT_DOUBLE_EQ(roofline_fraction(r, cost, Milliseconds(0.01), 1024 * kMiB), 2.0);
  // Pure data movement: 1 MB through L2 (400 GB/s) takes at least 2.5 us; done in 10 us is 0.25.
  EXPECT_DOUBLE_EQ(roofline_fraction(r, {.flops = 0, .bytes = 1e6}, Milliseconds(0.01), 1 * kMiB), 0.25);
}

TEST(Roofline, BadArgumentsNameTheValue) {
  const Roofline r = hand_made();
  const auto expect_invalid = [](auto&& call, const std::string& text) {
    try {
      call();
      FAIL() << "expected InvalidArgument containing " << text;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_invalid([&] { attainable_gflops(r, -1, 1, 1); }, "flops=-1 must be >= 0");
  expect_invalid([&] { attainable_gflops(r, 1, std::nan(""), 1); }, "bytes=nan must be >= 0");
  expect_invalid([&] { attainable_gflops(r, 1, 1, -5); }, "working_set_bytes=-5 must be >= 0");
  expect_invalid([&] { achieved_gflops(1, Milliseconds(0)); }, "time=0 ms must be > 0");
  expect_invalid([&] { roofline_fraction(Roofline{}, {.flops = 1, .bytes = 1}, Milliseconds(1), 1); },
                 "ceilings are not measured");
}

TEST(Roofline, CopyStoresNames) {
  EXPECT_EQ(to_string(CopyStores::Regular), "regular");
  EXPECT_EQ(to_string(CopyStores::NonTemporal), "non_temporal");
}

// Smoke test: every ceiling measured, positive and within physical sanity; no timing is asserted
// (the quick policy takes a handful of samples on a machine that may be busy).
TEST(Roofline, MeasureSmoke) {
  const Engine engine = Engine::cpu({.threads = available_processors() >= 2 ? 2 : 1});
  const Roofline r = measure_roofline(engine, MeasurePolicy::quick());
  EXPECT_EQ(r.threads, engine.threads());
  EXPECT_FALSE(r.peak_isa.empty());
  for (const double v : {r.peak_gflops, r.matmul_gflops, r.l2_gbps, r.l3_gbps, r.dram_gbps}) {
    EXPECT_TRUE(std::isfinite(v));
    EXPECT_GT(v, 0.1);
    EXPECT_LT(v, 1e5);  // 100 TFLOP/s or TB/s from two CPU threads would be a unit error
  }
  EXPECT_LT(r.l2_working_set_bytes, r.l3_working_set_bytes);
  EXPECT_LE(r.l2_working_set_bytes, r.l2_capacity_bytes);
  EXPECT_LE(r.l3_working_set_bytes, r.l3_capacity_bytes);
  EXPECT_GE(r.dram_working_set_bytes, std::int64_t{256} << 20);
  std::printf("[roofline] threads=%d isa=%s peak=%.1f matmul=%.1f GFLOP/s l2=%.1f l3=%.1f dram=%.1f GB/s (%s)\n",
              r.threads, r.peak_isa.c_str(), r.peak_gflops, r.matmul_gflops, r.l2_gbps, r.l3_gbps, r.dram_gbps,
              std::string(to_string(r.dram_stores)).c_str());
}

}  // namespace
}  // namespace hwnas
