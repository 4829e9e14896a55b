// hwnas_micro: Google Benchmark registrations of every op in the backbone, mixer and layer shape
// suites (hwnas::backbone_suite, hwnas::mixer_suite, hwnas::layer_suite), named by canonical key so
// --benchmark_filter and the JSON output join the store without glue.
//
//   hwnas_micro --hwnas_threads=2 --benchmark_out=micro.json --benchmark_out_format=json
//
// --hwnas_threads=N (default: all available processors) is ours and is removed before Google
// Benchmark parses the rest. Every benchmark uses real time: Google Benchmark's default CPU time of
// the main thread is meaningless for OpenMP code.
#include <benchmark/benchmark.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "bench/build_info.hpp"
#include "bench/op_registry.hpp"
#include "kernels/engine.hpp"
#include "kernels/error.hpp"

namespace {

int take_threads_flag(int& argc, char** argv) {
  constexpr std::string_view kFlag = "--hwnas_threads=";
  int threads = hwnas::available_processors();
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg.substr(0, kFlag.size()) == kFlag) {
      threads = std::stoi(std::string(arg.substr(kFlag.size())));
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  return threads;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const int threads = take_threads_flag(argc, argv);
    const hwnas::Engine engine = hwnas::Engine::cpu({.threads = threads});
    std::uint64_t seed = 1;
    std::vector<hwnas::SuiteEntry> suite = hwnas::backbone_suite();
    for (hwnas::SuiteEntry& mixer : hwnas::mixer_suite()) suite.push_back(std::move(mixer));
    for (hwnas::SuiteEntry& layer : hwnas::layer_suite()) suite.push_back(std::move(layer));
    for (const hwnas::SuiteEntry& entry : suite) {
      auto workload = std::make_shared<hwnas::Workload>(
          hwnas::make_workload(engine, entry.op, entry.assignments, seed++));
      benchmark::RegisterBenchmark(workload->key.c_str(),
                                   [workload](benchmark::State& state) {
                                     for (auto _ : state) {
                                       workload->run();
                                       benchmark::ClobberMemory();
                                     }
                                     state.counters["FLOPS"] = benchmark::Counter(
                                         workload->cost.flops, benchmark::Counter::kIsIterationInvariantRate);
                                     state.counters["bytes_per_second"] = benchmark::Counter(
                                         workload->cost.bytes, benchmark::Counter::kIsIterationInvariantRate);
                                     state.SetLabel(workload->impl);
                                   })
          ->UseRealTime()
          ->Unit(benchmark::kMicrosecond)
          ->MinWarmUpTime(0.2);
    }
    benchmark::Initialize(&argc, argv);
    benchmark::AddCustomContext("hwnas_threads", std::to_string(threads));
    benchmark::AddCustomContext("onednn_version", hwnas::onednn_version());
    benchmark::AddCustomContext("isa", engine.isa());
    benchmark::AddCustomContext("git_commit", hwnas::build_info().code_version);
    benchmark::AddCustomContext("hwnas_build_type", hwnas::build_info().build_type);
    benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();
  } catch (const hwnas::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return dynamic_cast<const hwnas::InvalidArgument*>(&e) != nullptr ? 2 : 1;
  } catch (const std::invalid_argument&) {
    std::fprintf(stderr, "error: --hwnas_threads needs an integer\n");
    return 2;
  }
  return 0;
}
