// Norm ops and block units of the walk (net_graph.hpp): x = rs (.) x + ls (.) f(x), f = the unit's
// ops in order (docs/arch.md, "Block").
//
// Data flow of a unit: each op reads the previous op's value (the first reads x). When the last op
// is an MLP and the unit has a residual without a residual scale, the residual and the layer scale
// are fused into fc2's output pass (MlpPlan::run(norm(x), x, dst), Residual::Add / ScaledAdd);
// otherwise a separate residual pass (supernet/residual.hpp) follows.
#include <fmt/format.h>

#include "kernels/error.hpp"
#include "kernels/layers/mlp.hpp"
#include "kernels/mixers/mixer_registry.hpp"
#include "kernels/ops/batch_norm.hpp"
#include "kernels/ops/group_norm.hpp"
#include "kernels/ops/layer_norm.hpp"
#include "supernet/net_graph.hpp"
#include "supernet/residual.hpp"

namespace hwnas::net {
namespace {

// A residual-fused MLP reads the unit's input as its residual.
class MlpStep final : public Step {
 public:
  explicit MlpStep(MlpPlan plan) : plan_(std::move(plan)) {}
  void run(ConstTensorView src, ConstTensorView residual, TensorView dst) const override {
    if (residual.empty()) {
      plan_.run(src, dst);
    } else {
      plan_.run(src, residual, dst);
    }
  }
  void run_observed(ConstTensorView src, ConstTensorView residual, TensorView dst,
                    const std::function<void(ConstTensorView)>& observe) const override {
    plan_.run_observed(src, residual, dst, observe);
  }

 private:
  MlpPlan plan_;
};

class ResidualStep final : public Step {
 public:
  explicit ResidualStep(ResidualPlan plan) : plan_(std::move(plan)) {}
  // src is f (the unit's last op), residual is x.
  void run(ConstTensorView src, ConstTensorView residual, TensorView dst) const override {
    plan_.run(src, residual, dst);
  }

 private:
  ResidualPlan plan_;
};

MlpKind parse_mlp_kind(const std::string& kind) {
  for (const MlpKind k : {MlpKind::Mlp, MlpKind::ConvFfn, MlpKind::GluMlp}) {
    if (to_string(k) == kind) return k;
  }
  throw InvalidArgument(fmt::format("mlp: kind '{}' is not one of mlp, conv_ffn, glu_mlp", kind));
}

WeightUse use(const std::string& prefix, WeightSpec spec, bool buffer = false) {
  std::string store = prefix + spec.name;
  return {.store_name = std::move(store), .spec = std::move(spec), .buffer = buffer};
}

void add_mixer(GraphBuilder& builder, const std::string& unit, const MixerSpec& spec) {
  const Nhwc s = nhwc_of(builder.shape(builder.current()));
  const MixerEntry& entry = find_mixer(spec.name);
  std::vector<std::string> words = {fmt::format("n={}", s.n), fmt::format("h={}", s.h),
                                    fmt::format("w={}", s.w), fmt::format("c={}", s.c)};
  for (const auto& [name, value] : spec.params) words.push_back(fmt::format("{}={}", name, value));
  const Params params = Params::parse(entry.name, entry.params, words);
  NetOp op{.name = unit + "mixer",
           .kind = "mixer",
           .key = entry.check(params),
           .cost = entry.cost(params),
           .in = builder.current()};
  const std::string prefix = fmt::format("{}mixer.{}.", unit, entry.name);
  for (WeightSpec& w : entry.weights(params)) op.weights.push_back(use(prefix, std::move(w)));
  op.create = [&entry, params](const Engine& engine, const MixerWeights& weights) {
    return make_step(entry.create(engine, params, weights));
  };
  builder.add(std::move(op), builder.shape(builder.current()));
}

// fused: Residual::Add / ScaledAdd with the unit's input `x` as the residual, else None.
void add_mlp(GraphBuilder& builder, const std::string& unit, const MlpSpec& spec, Residual fused,
             int x) {
  const Nhwc s = nhwc_of(builder.shape(builder.current()));
  const MlpDesc desc{.kind = parse_mlp_kind(spec.kind),
                     .n = s.n,
                     .h = s.h,
                     .w = s.w,
                     .c = s.c,
                     .ratio = spec.ratio,
                     .act = spec.act,
                     .residual = fused};
  check(desc);
  NetOp op{.name = unit + "mlp",
           .kind = "mlp",
           .key = to_string(desc),
           .cost = cost(desc),
           .in = builder.current(),
           .residual = fused == Residual::None ? -1 : x,
           .observed = Observed::Hidden};
  for (WeightSpec& w : weight_specs(desc)) {
    // The fused layer scale is the unit's gamma (docs/arch.md), which MlpPlan calls ls.gamma.
    if (w.name == "ls.gamma") {
      op.weights.push_back({.store_name = unit + "layer_scale.gamma", .spec = std::move(w)});
    } else {
      op.weights.push_back(use(unit + "mlp.", std::move(w)));
    }
  }
  op.create = [desc](const Engine& engine, const MixerWeights& weights) -> std::unique_ptr<Step> {
    return std::make_unique<MlpStep>(MlpPlan::create(engine, desc, weights));
  };
  builder.add(std::move(op), builder.shape(builder.current()));
}

void add_residual(GraphBuilder& builder, const std::string& unit, const UnitSpec& spec, int x) {
  const Nhwc s = nhwc_of(builder.shape(builder.current()));
  const ResidualDesc desc{.n = s.n,
                          .h = s.h,
                          .w = s.w,
                          .c = s.c,
                          .add_input = spec.residual,
                          .res_scale = spec.res_scale,
                          .layer_scale = spec.layer_scale};
  if (desc.res_scale && !desc.add_input) {
    throw InvalidArgument("res_scale=true needs residual=true (it scales the residual x)");
  }
  NetOp op{.name = unit + "residual",
           .kind = "residual",
           .key = to_string(desc),
           .cost = cost(desc),
           .in = builder.current(),
           .residual = spec.residual ? x : -1,
           .in_place = true};
  if (spec.res_scale) {
    op.weights.push_back(
        {.store_name = unit + "res_scale.scale",
         .spec = {.name = "res_scale.scale", .shape = {s.c}, .kind = WeightKind::NormScale}});
  }
  if (spec.layer_scale) {
    op.weights.push_back(
        {.store_name = unit + "layer_scale.gamma",
         .spec = {.name = "layer_scale.gamma", .shape = {s.c}, .kind = WeightKind::NormScale}});
  }
  op.create = [desc](const Engine& engine, const MixerWeights& w) -> std::unique_ptr<Step> {
    const ConstTensorView rs =
        desc.res_scale ? w.get("res_scale.scale", "residual") : ConstTensorView{};
    const ConstTensorView ls =
        desc.layer_scale ? w.get("layer_scale.gamma", "residual") : ConstTensorView{};
    return std::make_unique<ResidualStep>(ResidualPlan::create(engine, desc, rs, ls));
  };
  builder.add(std::move(op), builder.shape(builder.current()));
}

}  // namespace

void add_norm(GraphBuilder& builder, const std::string& name, const std::string& prefix,
              const NormSpec& spec) {
  const Shape shape = builder.shape(builder.current());
  const Nhwc s = nhwc_of(shape);
  const float eps = static_cast<float>(spec.eps);
  const auto affine = spec.bias ? LayerNormAffine::ScaleShift : LayerNormAffine::Scale;
  NetOp op{.name = name, .kind = "norm", .in = builder.current(), .in_place = true};
  op.weights.push_back(
      use(prefix, {.name = "weight", .shape = {s.c}, .kind = WeightKind::NormScale}));
  if (spec.bias) {
    op.weights.push_back(
        use(prefix, {.name = "bias", .shape = {s.c}, .kind = WeightKind::NormShift}));
  }
  const auto bias_of = [bias = spec.bias](const MixerWeights& w, std::string_view key) {
    return bias ? w.get("bias", key) : ConstTensorView{};
  };
  switch (spec.kind) {
    case NormKind::LayerNorm: {
      const LayerNormDesc d{.rows = s.n * s.h * s.w, .c = s.c, .eps = eps, .affine = affine};
      check(d);
      op.key = to_string(d);
      op.cost = cost(d);
      op.create = [d, bias_of](const Engine& engine, const MixerWeights& w) {
        const std::string key = to_string(d);
        return make_step(LayerNormPlan::create(engine, d, w.get("weight", key), bias_of(w, key)));
      };
      break;
    }
    case NormKind::BatchNorm: {
      const BatchNormDesc d{.n = s.n, .h = s.h, .w = s.w, .c = s.c, .eps = eps};
      check(d);
      op.key = to_string(d);
      op.cost = cost(d);
      op.cost.params = spec.bias ? 2 * s.c : s.c;
      op.weights.push_back(use(
          prefix, {.name = "running_mean", .shape = {s.c}, .kind = WeightKind::NormShift}, true));
      op.weights.push_back(use(
          prefix, {.name = "running_var", .shape = {s.c}, .kind = WeightKind::NormScale}, true));
      op.create = [d, bias = spec.bias](const Engine& engine, const MixerWeights& w) {
        const std::string key = to_string(d);
        // BatchNormPlan always shifts: a BatchNorm without bias shifts by zeros.
        const Tensor zeros = Tensor::zeros({d.c});
        return make_step(
            BatchNormPlan::create(engine, d,
                                  {.mean = w.get("running_mean", key),
                                   .var = w.get("running_var", key),
                                   .gamma = w.get("weight", key),
                                   .beta = bias ? w.get("bias", key) : zeros.cview()}));
      };
      break;
    }
    case NormKind::GroupNorm1: {
      const GroupNormDesc d{.n = s.n, .h = s.h, .w = s.w, .c = s.c, .eps = eps, .affine = affine};
      check(d);
      op.key = to_string(d);
      op.cost = cost(d);
      op.create = [d, bias_of](const Engine& engine, const MixerWeights& w) {
        const std::string key = to_string(d);
        return make_step(GroupNormPlan::create(engine, d, w.get("weight", key), bias_of(w, key)));
      };
      break;
    }
  }
  builder.add(std::move(op), shape);
}

void add_block(GraphBuilder& builder, std::size_t stage, std::size_t block, const BlockSpec& spec) {
  for (std::size_t u = 0; u < spec.units.size(); ++u) {
    const UnitSpec& unit = spec.units[u];
    const std::string prefix = fmt::format("stages.{}.blocks.{}.{}.", stage, block, u);
    const std::string path = fmt::format("stages[{}].blocks[{}].units[{}]", stage, block, u);
    const int x = builder.current();
    const bool fuse_last_mlp =
        unit.residual && !unit.res_scale && !unit.ops.empty() && unit.ops.back().mlp.has_value();
    for (std::size_t i = 0; i < unit.ops.size(); ++i) {
      const UnitOp& op = unit.ops[i];
      with_path(fmt::format("{}.ops[{}]", path, i), [&] {
        if (op.norm) {
          add_norm(builder, prefix + "norm", prefix + "norm.", *op.norm);
        } else if (op.mixer) {
          add_mixer(builder, prefix, *op.mixer);
        } else if (op.mlp) {
          const bool fused = fuse_last_mlp && i + 1 == unit.ops.size();
          const Residual residual = !fused             ? Residual::None
                                    : unit.layer_scale ? Residual::ScaledAdd
                                                       : Residual::Add;
          add_mlp(builder, prefix, *op.mlp, residual, x);
        } else {
          throw InvalidArgument("an op must be a norm, a mixer or an mlp");
        }
      });
    }
    if (!fuse_last_mlp && (unit.residual || unit.layer_scale || unit.res_scale)) {
      with_path(path, [&] { add_residual(builder, prefix, unit, x); });
    }
  }
}

}  // namespace hwnas::net
