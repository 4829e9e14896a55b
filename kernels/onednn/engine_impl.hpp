// Internal to kernels/: the oneDNN objects behind an Engine, and how plans execute primitives.
#pragma once

#include <omp.h>

#include <dnnl.hpp>
#include <unordered_map>

#include "kernels/engine.hpp"

namespace hwnas {

struct Engine::Impl {
  DeviceKind kind = DeviceKind::Cpu;
  int threads = 1;
  dnnl::engine engine;
  mutable dnnl::stream stream;

  // oneDNN's OpenMP runtime reads omp_get_max_threads() when a primitive executes, so the count is
  // re-asserted before every execution; it is a cheap per-thread ICV write.
  void execute(const dnnl::primitive& primitive, const std::unordered_map<int, dnnl::memory>& args) const {
    omp_set_num_threads(threads);
    primitive.execute(stream, args);
    stream.wait();
  }
};

}  // namespace hwnas
