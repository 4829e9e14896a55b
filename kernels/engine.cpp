#include "kernels/engine.hpp"

#include <fmt/format.h>
#include <sched.h>

#include "kernels/error.hpp"
#include "kernels/onednn/engine_impl.hpp"

namespace hwnas {

int available_processors() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return CPU_COUNT(&set);
  return omp_get_num_procs();
}

Engine Engine::cpu(const CpuEngineOptions& options) {
  const int available = available_processors();
  if (options.threads < 1 || options.threads > available) {
    throw InvalidArgument(fmt::format("engine: threads={} must be in [1, {}] (processors available)",
                                      options.threads, available));
  }
  auto impl = std::make_shared<Impl>();
  impl->kind = DeviceKind::Cpu;
  impl->threads = options.threads;
  impl->engine = dnnl::engine(dnnl::engine::kind::cpu, 0);
  impl->stream = dnnl::stream(impl->engine);
  omp_set_num_threads(options.threads);
  return Engine(std::move(impl));
}

DeviceKind Engine::kind() const { return impl_->kind; }
int Engine::threads() const { return impl_->threads; }

std::string Engine::isa() const {
  // oneDNN has no isa-to-string; the enum's names change between versions, so map what both share.
  switch (dnnl::get_effective_cpu_isa()) {
    case dnnl::cpu_isa::sse41: return "sse41";
    case dnnl::cpu_isa::avx: return "avx";
    case dnnl::cpu_isa::avx2: return "avx2";
    case dnnl::cpu_isa::avx2_vnni: return "avx2_vnni";
    case dnnl::cpu_isa::avx512_core: return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni: return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16: return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx: return "avx512_core_amx";
    default: return fmt::format("isa#{}", static_cast<int>(dnnl::get_effective_cpu_isa()));
  }
}

std::string onednn_version() {
  const dnnl_version_t* v = dnnl_version();
  return fmt::format("{}.{}.{} ({})", v->major, v->minor, v->patch, v->hash);
}

}  // namespace hwnas
