// pool_mixer: PoolFormer's token mixer (Yu et al., "MetaFormer Is Actually What You Need for
// Vision", CVPR 2022; official poolformer.py Pooling):
//
//   dst = AvgPool2d(pool, stride 1, padding pool // 2, count_include_pad=False)(x) - x
//
// (the "- x" because the block adds x back through its residual). Each average divides by the
// number of input pixels its pool x pool window covers, so borders average fewer pixels.
// One pass computes both: per output row, column sums over the window's rows, then the horizontal
// window sum, the divide and the subtraction, with no intermediate pooled tensor.
//
// No weights. FLOPs: pool*pool + 1 per element (the window's adds as the pool op counts them,
// border windows at full size, plus the subtraction; the divide is not counted); bytes src + dst,
// f32, each once; params 0.
//
// Layouts: src and dst NHWC [n, h, w, c], contiguous.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/engine.hpp"
#include "kernels/mixers/mixer.hpp"
#include "kernels/op_cost.hpp"
#include "kernels/params.hpp"

namespace hwnas {

struct PoolMixerDesc {
  std::int64_t n = 1, h = 56, w = 56, c = 96;
  std::int64_t pool = 3;  // odd
  friend bool operator==(const PoolMixerDesc&, const PoolMixerDesc&) = default;
};

std::span<const ParamSpec> pool_mixer_params();
// "pool_mixer:n=1,h=56,w=56,c=96,pool=3"
std::string to_string(const PoolMixerDesc& desc);
PoolMixerDesc pool_mixer_desc_from(const Params& params);  // calls check
// Throws InvalidArgument naming the field, value, rule and key: sizes < 1, an even pool.
void check(const PoolMixerDesc& desc);
OpCost cost(const PoolMixerDesc& desc);
std::vector<WeightSpec> weight_specs(const PoolMixerDesc& desc);  // empty

class PoolMixerPlan final : public MixerPlan {
 public:
  // Checks the desc and that no weights are given; allocates the per-thread column sums.
  // Throws InvalidArgument.
  static PoolMixerPlan create(const Engine& engine, const PoolMixerDesc& desc,
                              const MixerWeights& weights);
  void run(ConstTensorView src, TensorView dst) const override;
  std::string_view impl_name() const override;

 private:
  using RowFn = void (*)(const float*, std::int64_t, const PoolMixerDesc&, float*, float*) noexcept;
  PoolMixerPlan(const PoolMixerDesc& desc, int threads, Tensor scratch, RowFn row,
                std::string_view impl)
      : desc_(desc), threads_(threads), scratch_(std::move(scratch)), row_(row), impl_(impl) {}
  PoolMixerDesc desc_;
  int threads_ = 1;
  mutable Tensor scratch_;  // [threads, w * c]: one row of column sums per thread
  RowFn row_ = nullptr;
  std::string_view impl_;
};

}  // namespace hwnas
