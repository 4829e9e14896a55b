// The device fingerprint: what a measurement was taken on and with. Stored once per device (keyed by
// device_key, which hashes the hardware only) and once per run (the software side: compiler, flags,
// oneDNN, threads, git SHA), so a latency can always be traced to both. Google Benchmark's context
// block and llama.cpp's build_commit are the models.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/engine.hpp"

namespace hwnas {

struct Fingerprint {
  // Hardware.
  std::string cpu_model;         // /proc/cpuinfo "model name"; "unknown" when absent (e.g. some Arm)
  std::string isa;               // the ISA oneDNN dispatches to: Engine::isa()
  int cores = 0;                 // physical cores: distinct (package, core) pairs of online CPUs
  std::int64_t memory_bytes = 0; // /proc/meminfo MemTotal
  std::int64_t l1d_bytes = 0;    // per instance, from cpu0's sysfs cache entries; 0 when unknown
  std::int64_t l2_bytes = 0;
  std::int64_t l3_bytes = 0;
  std::vector<std::string> gpus; // `nvidia-smi -L` names; empty without a working nvidia-smi
  std::string hostname;
  std::string os;                // uname: "Linux 6.1.0-18-amd64 x86_64"
  // How this process runs on it.
  int threads = 0;               // the engine's thread count
  std::string affinity;          // sched_getaffinity as a CPU list, "0-1" or "0,2,4-7"
  std::string governor;          // cpu0's cpufreq scaling_governor; "unknown" when unreadable
  // Software.
  std::string onednn_version;    // onednn_version(), "3.2.0 (...)"
  std::string onednn_source;     // "pypi" or "system" (HWNAS_ONEDNN_SOURCE)
  std::string compiler;          // "GNU 12.2.0"
  std::string build_flags;
  std::string build_type;
  std::string code_version;      // git SHA, "-dirty" suffix for uncommitted changes

  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};

// Reads /proc, /sys, uname and (if on PATH) `nvidia-smi -L`, the latter with a 10 s limit so a
// wedged driver cannot hang a benchmark. Never throws for a missing source: the field says
// "unknown" or 0 instead.
Fingerprint collect_fingerprint(const Engine& engine);

// GPU names from `nvidia-smi -L` when it is on PATH, exits 0 and answers within `timeout` (else it
// is killed); empty otherwise. collect_fingerprint calls it with the default.
std::vector<std::string> list_gpus(std::chrono::milliseconds timeout = std::chrono::seconds(10));

// One JSON object, every field above under its own name. fingerprint_from_json throws IoError for
// text that is not JSON and InvalidArgument naming the JSON pointer for a missing or unknown key or
// a value of the wrong type.
std::string fingerprint_to_json(const Fingerprint& fp);
Fingerprint fingerprint_from_json(std::string_view json);

// A stable 16-hex-digit hash (FNV-1a, 64 bit) of the hardware identity only: cpu_model, cores,
// memory (rounded to GiB: MemTotal moves by a few MiB between kernels), gpus and hostname. The store
// keys devices by it; compiler, oneDNN, git SHA and threads belong to runs, so upgrading them does
// not make a new device.
std::string device_key(const Fingerprint& fp);

// Human-readable reasons to distrust timings taken under this fingerprint: a debug or sanitizer
// build, a CPU governor other than "performance", more threads than physical cores. Empty = none.
std::vector<std::string> warnings(const Fingerprint& fp);

// Cache sizes as sysfs reports them for cpu0 (per instance; 0 when unknown), and how many distinct L3
// instances the online CPUs share (1 on most desktops, one per CCX/CCD or socket on servers).
struct CacheSizes {
  std::int64_t l1d_bytes = 0;
  std::int64_t l2_bytes = 0;
  std::int64_t l3_bytes = 0;
  int l3_instances = 0;
};
CacheSizes read_cache_sizes();

// The parsers collect_fingerprint uses, exposed for tests.
std::string format_cpu_list(std::span<const int> cpus);      // {0,1,2,5} -> "0-2,5"
std::vector<int> parse_cpu_list(std::string_view list);      // "0-2,5" -> {0,1,2,5}; InvalidArgument
std::int64_t parse_cache_size(std::string_view size);        // sysfs "48K", "1024K", "32M" -> bytes; -1 if malformed
std::vector<std::string> parse_gpu_list(std::string_view nvidia_smi_list);  // `nvidia-smi -L` output

}  // namespace hwnas
