// What every token mixer shares: its input shape, its named weights and the prepared plan.
//
// A token mixer maps an NHWC activation [n, h, w, c] to one of the same shape (DESIGN.md: a block
// is x + mixer(norm(x))). Each mixer has its own Desc/to_string/check/cost like an op, plus:
//   - a list of WeightSpec: the tensors it learns, named as in the PyTorch module of the paper's
//     reference implementation ("qkv.weight" [3c, c], "relative_position_bias_table" [(2w-1)^2,
//     heads], ...), in PyTorch's layouts (Linear [out, in], Conv2d OIHW), so checkpoints map 1:1;
//   - a MixerPlan, created once from the desc and a MixerWeights (views by name; any strides, so a
//     supernet can pass slices of larger tensors) and then run many times;
//   - a float64 reference in kernels/reference/ written from the paper's definition.
// mixer_registry.hpp lists them all under their `hwnas bench-op` names.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "kernels/params.hpp"
#include "kernels/tensor.hpp"

namespace hwnas {

// n, h, w, c: the NHWC input of a mixer. Defaults are stage 1 of a 224x224 backbone (56x56x96).
std::vector<ParamSpec> mixer_shape_params();

struct MixerShape {
  std::int64_t n = 1, h = 1, w = 1, c = 1;
  Shape shape() const { return {n, h, w, c}; }
  std::int64_t tokens() const { return h * w; }
  friend bool operator==(const MixerShape&, const MixerShape&) = default;
};
MixerShape mixer_shape_from(const Params& params);

// What a weight is for: decides how random weights are drawn here (and, later, how the supernet
// initialises and slices it).
enum class WeightKind {
  Matrix,     // Linear [out, in] or conv [oc, ic/g, kh, kw]: uniform +-1/sqrt(fan_in)
  Bias,       // uniform +-0.5
  NormScale,  // uniform [0.5, 1.5]
  NormShift,  // uniform +-0.5
  Table,      // relative position bias tables, fixed random mixing matrices: uniform +-1
};

struct WeightSpec {
  std::string name;  // PyTorch state_dict name within the mixer, e.g. "qkv.weight"
  Shape shape;
  WeightKind kind = WeightKind::Matrix;
};

// Weights by name: borrowed f32 views of any strides. A plan copies what it needs at create(), so
// the views may die after create() returns.
class MixerWeights {
 public:
  void set(std::string name, ConstTensorView view);
  bool has(std::string_view name) const;
  // Throws InvalidArgument naming the mixer key and the missing name.
  ConstTensorView get(std::string_view name, std::string_view key) const;
  const std::map<std::string, ConstTensorView, std::less<>>& all() const { return views_; }

 private:
  std::map<std::string, ConstTensorView, std::less<>> views_;
};

// The checks every mixer and layer desc makes, worded as the tests match them:
// "<op>: <name>=<value> must be >= 1 [<key>]" and "<op>: heads=<heads> must divide c=<c> [<key>]".
void check_positive(std::string_view op, std::string_view name, std::int64_t value,
                    std::string_view key);
void check_heads_divide_channels(std::string_view op, std::int64_t heads, std::int64_t c,
                                 std::string_view key);

// Throws InvalidArgument naming `key` and the tensor when a spec's tensor is missing, has another
// shape or is not f32, or when `weights` holds a name no spec lists (a typo must not pass
// silently).
void check_weights(std::string_view key, std::span<const WeightSpec> specs,
                   const MixerWeights& weights);

// Random weights for `specs` drawn as their WeightKind says: what tests and benchmarks feed a plan.
struct RandomWeights {
  std::vector<Tensor> tensors;
  MixerWeights views;
};
RandomWeights make_random_weights(std::span<const WeightSpec> specs, std::mt19937_64& rng);

// A mixer prepared for one desc. run() computes only (no allocation, checks or logs); src and dst
// are contiguous f32 [n, h, w, c] and must not alias. Not safe to call concurrently on one plan (it
// owns its scratch).
class MixerPlan {
 public:
  virtual ~MixerPlan() = default;
  virtual void run(ConstTensorView src, TensorView dst) const = 0;
  // The implementation that runs, e.g. "hand:window_attention_avx512+onednn:brg:avx512_core".
  virtual std::string_view impl_name() const = 0;
};

}  // namespace hwnas
