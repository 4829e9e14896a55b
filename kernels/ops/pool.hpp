// pool: 2-D max or average pooling on NHWC [n, h, w, c] -> [n, oh, ow, c], kernel kh x kw.
//
// Window (y, x) covers input rows y*stride - pad .. y*stride - pad + kh - 1 (columns likewise);
// oh = floor((h + 2*pad - kh) / stride) + 1 and ow likewise, PyTorch's rule with ceil_mode=False.
// Max pooling treats padding as -inf (it never wins). Average pooling divides by kh*kw when
// count_include_pad = Include (PyTorch's default) and by the number of input elements in the window
// when Exclude (PoolFormer: 3x3, stride 1, pad 1, Exclude). As in PyTorch, pad must be at most half
// the kernel, so every window overlaps the input.
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

enum class PoolAlg { Max, Avg };
// Whether padded positions count in an average's divisor; max pooling takes Exclude (the key stays
// canonical: one spelling per computation).
enum class CountPad { Exclude, Include };

struct PoolDesc {
  PoolAlg alg = PoolAlg::Avg;
  std::int64_t n = 1, h = 1, w = 1, c = 1;
  std::int64_t kh = 1, kw = 1, stride = 1, pad = 0;
  CountPad count_include_pad = CountPad::Exclude;
  friend bool operator==(const PoolDesc&, const PoolDesc&) = default;
};

std::span<const ParamSpec> pool_params();
// "pool:alg=avg,n=1,h=56,w=56,c=64,kh=3,kw=3,stride=1,pad=1,count_include_pad=0"
std::string to_string(const PoolDesc& desc);
PoolDesc pool_desc_from(const Params& params);
PoolDesc parse_pool_desc(std::string_view key);  // throws InvalidArgument
// Throws InvalidArgument naming the field: sizes < 1, pad < 0, a kernel larger than the padded
// input, pad > kernel/2, count_include_pad=1 with max.
void check(const PoolDesc& desc);
Shape pool_src_shape(const PoolDesc& desc);  // [n, h, w, c]
Shape pool_dst_shape(const PoolDesc& desc);  // [n, oh, ow, c]; desc must pass check()
// kh*kw FLOPs per output element (one add or max per window element; an average's divide is folded
// in as the last step). bytes = src + dst.
OpCost cost(const PoolDesc& desc);

class PoolPlan {
 public:
  // Checks desc, creates the primitive and its scratch. Throws InvalidArgument or Unsupported.
  static PoolPlan create(const Engine& engine, const PoolDesc& desc);

  // Compute only: src [n, h, w, c], dst [n, oh, ow, c], both contiguous. Not safe to call
  // concurrently on one plan.
  void run(ConstTensorView src, TensorView dst) const;

  const PoolDesc& desc() const;
  std::string_view impl_name() const;

  PoolPlan(PoolPlan&&) noexcept;
  PoolPlan& operator=(PoolPlan&&) noexcept;
  ~PoolPlan();

 private:
  struct State;
  explicit PoolPlan(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace hwnas
