// The residual pass of a block unit whose residual is not fused into its last op (docs/arch.md,
// "Block"): dst = rs (.) x + ls (.) f, rs and ls per channel [c] and each optional; with
// add_input = false, dst = ls (.) f. Used after a mixer (whose plan has no residual epilogue) and
// after an MLP when the unit has a residual scale, which fc2's epilogue cannot apply.
//
// Layouts: f, x and dst are contiguous NHWC [n, h, w, c] (any view of n*h*w*c elements with last
// axis c); dst may be f or x (each element is read before it is written). Runs as one OpenMP loop
// ("hand:residual"): a pass over memory, not a math kernel.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "kernels/engine.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

struct ResidualDesc {
  std::int64_t n = 1, h = 1, w = 1, c = 1;
  bool add_input = true;     // the "x +" (UnitSpec::residual)
  bool res_scale = false;    // rs [c] (MetaFormer v2's res_scale)
  bool layer_scale = false;  // ls [c] (LayerScale gamma)
};

// "residual:n=1,h=56,w=56,c=96,add=1,res_scale=0,layer_scale=1"
std::string to_string(const ResidualDesc& desc);
// 1 FLOP per element for the add and per scale; params c per scale; bytes f (+ x) + dst + scales.
OpCost cost(const ResidualDesc& desc);

class ResidualPlan {
 public:
  // rs and ls: [c] f32 views (any stride) when the desc has them, else empty; copied. Throws
  // InvalidArgument naming the key for a missing or misshapen scale, sizes < 1, or res_scale
  // without add_input.
  static ResidualPlan create(const Engine& engine, const ResidualDesc& desc,
                             ConstTensorView res_scale = {}, ConstTensorView layer_scale = {});
  // x is ignored (may be empty) when !add_input.
  void run(ConstTensorView f, ConstTensorView x, TensorView dst) const;

  ResidualPlan(ResidualPlan&&) noexcept;
  ResidualPlan& operator=(ResidualPlan&&) noexcept;
  ~ResidualPlan();

 private:
  struct State;
  explicit ResidualPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
