// A compute device and how many threads it may use.
//
// The CPU engine wraps oneDNN's engine and stream and fixes the OpenMP thread count explicitly:
// nothing hwnas times runs with whatever OMP_NUM_THREADS the environment happens to hold. Plans keep
// a copy of the Engine they were created on (it is a cheap shared handle).
#pragma once

#include <memory>
#include <string>

namespace hwnas {

enum class DeviceKind { Cpu, Cuda };

struct CpuEngineOptions {
  int threads = 1;  // 1 .. number of processors available to this process
};

class Engine {
 public:
  // Throws InvalidArgument if threads is outside [1, available processors].
  static Engine cpu(const CpuEngineOptions& options);

  DeviceKind kind() const;
  int threads() const;
  // The instruction set oneDNN dispatches to on this machine, e.g. "avx512_core_bf16".
  std::string isa() const;

  struct Impl;  // defined in kernels/onednn/engine_impl.hpp, visible to kernels/ only
  const Impl& impl() const { return *impl_; }

 private:
  explicit Engine(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}
  std::shared_ptr<Impl> impl_;
};

// Processors this process may run on (its affinity mask), not the machine's total.
int available_processors();
// oneDNN's version, e.g. "3.2.0 (commit ...)".
std::string onednn_version();

}  // namespace hwnas
