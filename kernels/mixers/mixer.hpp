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

// How a supernet takes this weight at a smaller choice out of the same weight stored at the
// largest (weight entanglement, supernet/weight_store.hpp). Each dimension is a concatenation of
// one or more segments (qkv.weight's rows: q, k and v), and each segment is sliced on its own by
// the dimension's rule:
//   Leading      the first k of K: channels, MLP hidden units, heads, kernel rows of size 1;
//   Centre       the middle k of K, from (K - k) / 2: conv kernel taps (OFA's elastic kernel) and
//                tables indexed by an offset d + (k - 1), d in -(k-1)..k-1 (NAT's rpb);
//   LeadingGrid  the dimension is a flattened row-major grid rows x cols (grid_cols = cols): the
//                first rows' x cols' of it (tables indexed by |dy| * cols + |dx|, EfficientViT);
//   CentreGrid   as LeadingGrid, the centre rows' x cols' (Swin's relative_position_bias_table
//                [(2wh-1)*(2ww-1), heads]: a relative offset keeps its bias across window sizes).
// A dimension's segment sizes belong to the choice (focal modulation's gates grow with its
// levels), may be 0 (a part the choice lacks, gnconv's orders) and sum to its extent; the stored
// weight holds per segment the largest size, per grid axis the largest rows and cols. An empty
// `slicing` means the defaults: Centre for dims 2 and 3 of a rank-4 Matrix (conv OIHW), Leading
// with one segment everywhere else.
//
// What entanglement means where it is not obvious (each mixer's weight_specs annotates it):
//   - heads: the first heads, as the first channels of q, k and v (head h owns channels
//     [h*d, (h+1)*d)); where heads have their own tensors (cascaded group attention's qkvs.{i})
//     the names of the first heads are simply shared;
//   - concatenated outputs (qkv, kv, glu fc1 value|gate, focal f q|ctx|gates, gnconv proj_in
//     pwa|abc, patch merging's 4 neighbours): the leading part of every segment;
//   - gnconv: dims[i] = c >> (order-1-i), so the segments of its abc channels (proj_in, dwconv)
//     are aligned at the end over gnconv's largest order: the part c >> j is one segment for
//     every order (0 where the order has no such part), so a smaller order takes the largest
//     parts of a larger one; pws.{i} are Leading (pws.0 of order 3 is the corner of order 2's);
//   - single-head attention (SHViT) and partial conv (FasterNet) work on the leading pdim / cp
//     channels, which stay the leading channels at a smaller width: Leading throughout;
//   - inception dwconv: each branch conv is its own tensor of gc = int(c * branch_ratio)
//     channels: the first gc' channels and the centre of its kernel (Centre in both dims of the
//     bands, so 1 x k takes the centre k' of k).
enum class SliceRule : std::uint8_t { Leading, Centre, LeadingGrid, CentreGrid };
std::string_view to_string(SliceRule rule);

struct DimSlicing {
  SliceRule rule = SliceRule::Leading;
  std::vector<std::int64_t> segments = {};  // empty: one segment of the whole extent
  std::int64_t grid_cols = 0;               // grid rules only: the grid's columns
};

struct WeightSpec {
  std::string name;  // PyTorch state_dict name within the mixer, e.g. "qkv.weight"
  Shape shape;
  WeightKind kind = WeightKind::Matrix;
  std::vector<DimSlicing> slicing = {};  // empty (the defaults) or one per dimension
};

// Dimension `dim` of spec's slicing with the defaults filled in (segments never empty).
DimSlicing dim_slicing(const WeightSpec& spec, int dim);
// Throws InvalidArgument naming `where` and the weight when the slicing does not describe the
// shape: not one entry per dimension, segments not summing to the extent or negative, a grid
// whose grid_cols does not divide the extent, a grid with more than one segment.
void check_slicing(const WeightSpec& spec, std::string_view where);

// Annotations for weight_specs, so a spec stays one expression:
//   with_segments({"qkv.weight", {3 * c, c}, WeightKind::Matrix}, 0, {c, c, c})
WeightSpec with_segments(WeightSpec spec, int dim, std::vector<std::int64_t> sizes);
WeightSpec with_rule(WeightSpec spec, int dim, SliceRule rule);
// A flattened rows x cols grid in dimension `dim`, sliced by `rule` (LeadingGrid or CentreGrid).
WeightSpec with_grid(WeightSpec spec, int dim, SliceRule rule, std::int64_t rows,
                     std::int64_t cols);

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
// Fills dst (contiguous, `shape`) as make_random_weights draws one weight of `kind`; the
// supernet's WeightStore draws its weights with it too.
void fill_random_weight(WeightKind kind, TensorView dst, std::mt19937_64& rng);

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
