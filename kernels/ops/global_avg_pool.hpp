// global_avg_pool: dst[b, ch] = mean over y, x of src[b, y, x, ch]; NHWC [n, h, w, c] -> [n, c].
//
// The classifier head of every backbone here (ConvNeXt-T: 7x7x768) and the squeeze of squeeze-and-
// excitation. dst is any contiguous view of n*c elements whose last axis is c ([n, c] or
// [n, 1, 1, c]). Runs as one oneDNN average pooling whose kernel is the whole h x w plane.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

struct GlobalAvgPoolDesc {
  std::int64_t n = 1, h = 1, w = 1, c = 1;
  friend bool operator==(const GlobalAvgPoolDesc&, const GlobalAvgPoolDesc&) = default;
};

std::span<const ParamSpec> global_avg_pool_params();
std::string to_string(const GlobalAvgPoolDesc& desc);  // "global_avg_pool:n=1,h=7,w=7,c=768"
GlobalAvgPoolDesc global_avg_pool_desc_from(const Params& params);
GlobalAvgPoolDesc parse_global_avg_pool_desc(std::string_view key);  // throws InvalidArgument
void check(const GlobalAvgPoolDesc& desc);  // throws InvalidArgument naming the field
// n*h*w*c adds plus n*c divides; bytes = src + dst.
OpCost cost(const GlobalAvgPoolDesc& desc);

class GlobalAvgPoolPlan {
 public:
  // Checks desc, creates the primitive and its scratch. Throws InvalidArgument or Unsupported.
  static GlobalAvgPoolPlan create(const Engine& engine, const GlobalAvgPoolDesc& desc);

  // Compute only: src [n, h, w, c] contiguous; dst n*c elements, last axis c. Not safe to call
  // concurrently on one plan.
  void run(ConstTensorView src, TensorView dst) const;

  const GlobalAvgPoolDesc& desc() const;
  std::string_view impl_name() const;

  GlobalAvgPoolPlan(GlobalAvgPoolPlan&&) noexcept;
  GlobalAvgPoolPlan& operator=(GlobalAvgPoolPlan&&) noexcept;
  ~GlobalAvgPoolPlan();

 private:
  struct State;
  explicit GlobalAvgPoolPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
