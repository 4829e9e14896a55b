#include "kernels/mixers/random_mixing.hpp"

#include <fmt/format.h>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/matmul.hpp"
#include "kernels/reference/random_mixing_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "random_mixing";

// Test tolerance, relative to max(sum_j |W[m, j] * x[j]|, 1): a dot product of N = h*w terms,
// 2*gamma(N + 1) in any summation order: 2.4e-6 at the contract size (13x15), 2.3e-5 at 14x14
// (stage 3, where RandFormer uses it), 3.7e-4 at 56x56, the largest map this bound is stated for.
// A wrong token or a transposed W moves an output by ~magnitude / N >= 3e-4 of it at 56x56 (and
// by far more at the sizes tested); the mixer's own tests use the bound of each shape's N.
constexpr double kTolerance = 3.8e-4;

}  // namespace

std::span<const ParamSpec> random_mixing_params() {
  static const std::vector<ParamSpec> kSpecs = mixer_shape_params();
  return kSpecs;
}

std::string to_string(const RandomMixingDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)}});
}

RandomMixingDesc random_mixing_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const RandomMixingDesc d{.n = s.n, .h = s.h, .w = s.w, .c = s.c};
  check(d);
  return d;
}

void check(const RandomMixingDesc& d) {
  for (const auto& [name, v] : {std::pair{"n", d.n}, {"h", d.h}, {"w", d.w}, {"c", d.c}}) {
    if (v < 1) {
      throw InvalidArgument(
          fmt::format("{}: {}={} must be >= 1 [{}]", kName, name, v, to_string(d)));
    }
  }
}

OpCost cost(const RandomMixingDesc& d) {
  const double tokens = static_cast<double>(d.h * d.w);
  const double c = static_cast<double>(d.c), n = static_cast<double>(d.n);
  return {.flops = 2 * n * tokens * tokens * c,
          .bytes = 4.0 * (2 * n * tokens * c + tokens * tokens),
          .params = 0};
}

std::vector<WeightSpec> weight_specs(const RandomMixingDesc& d) {
  // Both dimensions are the tokens of the h x w map: a smaller map keeps the entries between
  // its tokens, those of the top-left corner.
  const std::int64_t t = d.h * d.w;
  WeightSpec m{"random_matrix", {t, t}, WeightKind::Table};
  return {with_grid(with_grid(std::move(m), 0, SliceRule::LeadingGrid, d.h, d.w), 1,
                    SliceRule::LeadingGrid, d.h, d.w)};
}

struct RandomMixingPlan::State {
  RandomMixingDesc desc;
  Tensor matrix;  // [1, N, N], contiguous
  MatmulPlan matmul;
};

RandomMixingPlan::RandomMixingPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
RandomMixingPlan::RandomMixingPlan(RandomMixingPlan&&) noexcept = default;
RandomMixingPlan& RandomMixingPlan::operator=(RandomMixingPlan&&) noexcept = default;
RandomMixingPlan::~RandomMixingPlan() = default;

RandomMixingPlan RandomMixingPlan::create(const Engine& engine, const RandomMixingDesc& d,
                                          const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const std::int64_t tokens = d.h * d.w;
  Tensor matrix = Tensor::copy_of(weights.get("random_matrix", key));
  // W is the matmul's "src" [1, N, N] and a sample's tokens its "weights" [1, N, c].
  MatmulPlan matmul = MatmulPlan::create(engine, {.b = 1, .m = tokens, .k = tokens, .n = d.c});
  return RandomMixingPlan(std::make_unique<State>(
      State{.desc = d, .matrix = std::move(matrix), .matmul = std::move(matmul)}));
}

void RandomMixingPlan::run(ConstTensorView src, TensorView dst) const {
  const State& s = *state_;
  const RandomMixingDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == Shape({d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == Shape({d.n, d.h, d.w, d.c}));
  const std::int64_t tokens = d.h * d.w, sample = tokens * d.c;
  const ConstTensorView matrix(s.matrix.f32(), {1, tokens, tokens});
  // One matmul per sample: W is shared by all of them, and oneDNN parallelises each one.
  for (std::int64_t b = 0; b < d.n; ++b) {
    s.matmul.run(matrix, ConstTensorView(src.f32() + b * sample, {1, tokens, d.c}),
                 TensorView(dst.f32() + b * sample, {1, tokens, d.c}));
  }
}

std::string_view RandomMixingPlan::impl_name() const { return state_->matmul.impl_name(); }

MixerEntry random_mixing_entry() {
  return make_mixer_entry<RandomMixingDesc, RandomMixingPlan>(
      std::string(kName),
      "RandFormer: a fixed random N x N matrix (N = h*w) mixes the tokens of each channel",
      random_mixing_params(), random_mixing_desc_from, reference::random_mixing, kTolerance);
}

}  // namespace hwnas
