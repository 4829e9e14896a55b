// The device roofline: the ceilings an op's achieved GFLOP/s is compared against (Williams,
// Waterman and Patterson 2009). Measured, not taken from a data sheet, on the engine's threads. Each
// ceiling is computed from the fastest sample (STREAM's "best rate"): interference only ever slows a
// run down, and what is wanted is what the hardware can do, not what it did on a busy machine.
//
// - peak_gflops: f32 FMA throughput of a register-resident loop, every thread running its own
//   independent chains (16 zmm with AVX-512, 12 ymm with AVX2+FMA: more chains than FMA latency x
//   issue width, so the FMA units never wait on a result).
// - matmul_gflops: f32 2048 x 2048 x 2048 through LinearPlan (oneDNN's matmul): what a tuned GEMM
//   reaches, usually 70-95 % of peak.
// - l2_gbps, l3_gbps, dram_gbps: copy bandwidth, bytes read + bytes written per second, at working
//   sets that fit each level (see the *_working_set_bytes fields). Counting read + written bytes
//   matches OpCost::bytes. Regular stores also read each destination line first (write-allocate),
//   traffic this figure does not count, so at DRAM the copy is measured with regular and with
//   non-temporal (streaming) stores and the faster one is kept (dram_stores says which).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "bench/latency.hpp"
#include "bench/measure.hpp"
#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"

namespace hwnas {

enum class CopyStores { Regular, NonTemporal };
std::string_view to_string(CopyStores stores);

struct Roofline {
  int threads = 0;
  std::string peak_isa;             // the FMA loop that ran: "avx512f", "avx2+fma" or "generic"
  double peak_gflops = 0;
  double matmul_gflops = 0;
  double l2_gbps = 0;
  double l3_gbps = 0;
  double dram_gbps = 0;
  CopyStores dram_stores = CopyStores::Regular;
  // The working sets the bandwidths were measured at: source + destination, all threads together.
  std::int64_t l2_working_set_bytes = 0;   // half of each thread's (per-core) L2
  std::int64_t l3_working_set_bytes = 0;   // half of the L3 capacity below
  std::int64_t dram_working_set_bytes = 0; // >= 8x the L3 capacity, at least 256 MiB
  // What attainable_gflops() calls fitting: the L2s of `threads` cores, and the L3 instances those
  // threads can reach (one per thread at most, assuming the threads spread over L3 domains).
  std::int64_t l2_capacity_bytes = 0;
  std::int64_t l3_capacity_bytes = 0;
};

// Measures the five ceilings on engine.threads() threads, each timed under `policy`. Takes a few
// seconds under the default policy (the 2048^3 matmul and the DRAM copy dominate) and allocates
// dram_working_set_bytes + 48 MiB. Throws Unsupported if the matmul cannot be created.
Roofline measure_roofline(const Engine& engine, const MeasurePolicy& policy);

// The copy bandwidth of the smallest level whose capacity holds working_set_bytes (L2, L3, DRAM).
double attainable_bandwidth_gbps(const Roofline& roofline, double working_set_bytes);

// min(peak, intensity * bandwidth), with intensity = flops / bytes and the bandwidth of the smallest
// level whose capacity holds working_set_bytes (L2, then L3, else DRAM). bytes == 0 means compute
// bound: the peak. Throws InvalidArgument for a negative argument.
double attainable_gflops(const Roofline& roofline, double flops, double bytes, double working_set_bytes);

// GFLOP/s of `flops` done in `time`.
double achieved_gflops(double flops, Milliseconds time);

// The roofline's lower bound on the op's time, max(flops / peak, bytes / bandwidth of its level),
// divided by the measured time; 1 means on the roofline. For ops with FLOPs this equals achieved /
// attainable GFLOP/s; for pure data movement (permute, flops = 0) it is the fraction of the level's
// bandwidth reached. Throws InvalidArgument when the roofline's ceilings are not measured (zero).
double roofline_fraction(const Roofline& roofline, const OpCost& cost, Milliseconds time,
                         double working_set_bytes);

}  // namespace hwnas
