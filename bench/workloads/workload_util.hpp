// Helpers for writing op workloads (bench/workloads/*.cpp).
#pragma once

#include <memory>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "bench/op_registry.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

// Uniform [-1, 1] data: never zeros, so data-dependent fast paths cannot flatter a kernel.
Tensor random_tensor(const Shape& shape, std::mt19937_64& rng);
// Positive data in [0.5, 1.5] (variances, divisors).
Tensor positive_tensor(const Shape& shape, std::mt19937_64& rng);

// A plan and the tensors its run() reads and writes, kept alive together by the Workload.
template <typename Plan>
struct Prepared {
  std::vector<Tensor> tensors;
  Plan plan;
};

// Packages a prepared plan: run(plan, tensors) is what gets timed. Desc needs to_string and cost.
template <typename Desc, typename Plan, typename Run>
Workload package(const Desc& desc, std::vector<Tensor> tensors, Plan plan, Run run) {
  auto prepared = std::make_shared<Prepared<Plan>>(Prepared<Plan>{std::move(tensors), std::move(plan)});
  const OpCost c = cost(desc);
  std::string impl(prepared->plan.impl_name());
  return Workload{.key = to_string(desc),
                  .cost = c,
                  .impl = std::move(impl),
                  .working_set_bytes = c.bytes,
                  .run = [p = prepared.get(), run] { run(p->plan, p->tensors); },
                  .resources = prepared};
}

}  // namespace hwnas
