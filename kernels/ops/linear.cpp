#include "kernels/ops/linear.hpp"

#include <fmt/format.h>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {
constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;

constexpr std::string_view kResidualNames[] = {"none", "add", "layer_scale"};

// The keys' parameters: bench-op's list plus the residual epilogue, which bench-op's linear entry
// does not time (its workload has no residual tensor; the MLP layers time it).
std::span<const ParamSpec> linear_key_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s(linear_params().begin(), linear_params().end());
    s.push_back({.name = "residual",
                 .default_value = "none",
                 .choices = {"none", "add", "layer_scale"},
                 .help = "output pass adds a residual (layer_scale: residual + gamma * out)"});
    return s;
  }();
  return kSpecs;
}
}  // namespace

std::string_view to_string(Residual r) { return kResidualNames[static_cast<int>(r)]; }

Residual parse_residual(std::string_view name) {
  for (int i = 0; i < 3; ++i) {
    if (kResidualNames[i] == name) return static_cast<Residual>(i);
  }
  throw InvalidArgument(
      fmt::format("residual '{}' is unknown; expected none, add or layer_scale", name));
}

std::span<const ParamSpec> linear_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "m", .default_value = "3136", .min = 1, .max = kMaxExtent, .help = "rows (tokens x batch)"},
      {.name = "k", .default_value = "96", .min = 1, .max = kMaxExtent, .help = "input features"},
      {.name = "n", .default_value = "384", .min = 1, .max = kMaxExtent, .help = "output features"},
      {.name = "bias", .default_value = "1", .min = 0, .max = 1, .help = "add a bias"},
      {.name = "act", .default_value = "none",
       .choices = {"none", "relu", "gelu_erf", "gelu_tanh", "silu", "hardswish", "sigmoid"},
       .help = "fused activation"},
  };
  return kSpecs;
}

std::string to_string(const LinearDesc& d) {
  std::string key = make_key("linear", {{"m", std::to_string(d.m)},
                                        {"k", std::to_string(d.k)},
                                        {"n", std::to_string(d.n)},
                                        {"bias", d.bias == Bias::Add ? "1" : "0"},
                                        {"act", std::string(to_string(d.act))}});
  if (d.residual != Residual::None) key += fmt::format(",residual={}", to_string(d.residual));
  return key;
}

LinearDesc linear_desc_from(const Params& p) {
  return {.m = p.integer("m"),
          .k = p.integer("k"),
          .n = p.integer("n"),
          .bias = p.integer("bias") != 0 ? Bias::Add : Bias::None,
          .act = parse_activation(p.word("act"))};
}

LinearDesc parse_linear_desc(std::string_view key) {
  const Params p = Params::from_key("linear", linear_key_params(), key);
  LinearDesc d = linear_desc_from(p);
  d.residual = parse_residual(p.word("residual"));
  return d;
}

void check(const LinearDesc& d) {
  const auto positive = [&](std::string_view name, std::int64_t v) {
    if (v < 1) throw InvalidArgument(fmt::format("linear: {}={} must be >= 1 [{}]", name, v, to_string(d)));
  };
  positive("m", d.m);
  positive("k", d.k);
  positive("n", d.n);
  if (d.act == Activation::StarRelu) {
    throw InvalidArgument(fmt::format("linear: act=star_relu cannot be fused; use an eltwise op [{}]",
                                      to_string(d)));
  }
}

OpCost cost(const LinearDesc& d) {
  const double bias = d.bias == Bias::Add ? static_cast<double>(d.n) : 0.0;
  const double m = static_cast<double>(d.m), k = static_cast<double>(d.k), n = static_cast<double>(d.n);
  const double residual = d.residual != Residual::None ? m * n : 0.0;
  const double gamma = d.residual == Residual::ScaledAdd ? n : 0.0;
  return {.flops = 2.0 * m * k * n + residual + (gamma > 0 ? m * n : 0.0),
          .bytes = 4.0 * (m * k + n * k + bias + m * n + residual + gamma),
          .params = d.n * d.k + static_cast<std::int64_t>(bias + gamma)};
}

Shape linear_weights_shape(const LinearDesc& d) { return {d.n, d.k}; }

struct LinearPlan::State {
  LinearDesc desc;
  onednn::PreparedPrimitive primitive;  // owns the reordered weights and bias
};

LinearPlan::LinearPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
LinearPlan::LinearPlan(LinearPlan&&) noexcept = default;
LinearPlan& LinearPlan::operator=(LinearPlan&&) noexcept = default;
LinearPlan::~LinearPlan() = default;

LinearPlan LinearPlan::create(const Engine& engine, const LinearDesc& d, ConstTensorView weights,
                              ConstTensorView bias, ConstTensorView gamma) {
  check(d);
  const std::string key = to_string(d);
  if (weights.dtype() != DType::F32) {
    throw InvalidArgument(fmt::format("linear: weights dtype={} is unsupported, expected f32 [{}]",
                                      to_string(weights.dtype()), key));
  }
  if (!(weights.shape() == linear_weights_shape(d))) {
    throw InvalidArgument(fmt::format("linear: weights shape {} must be [n={}, k={}] [{}]",
                                      weights.shape().to_string(), d.n, d.k, key));
  }
  if (d.bias == Bias::Add && !(bias.shape() == Shape{d.n})) {
    throw InvalidArgument(
        fmt::format("linear: bias shape {} must be [n={}] [{}]", bias.shape().to_string(), d.n, key));
  }
  if (d.residual == Residual::ScaledAdd &&
      !(gamma.shape() == Shape{d.n} && gamma.dtype() == DType::F32 && !gamma.empty())) {
    throw InvalidArgument(
        fmt::format("linear: gamma shape {} must be [n={}] f32 for residual=layer_scale [{}]",
                    gamma.shape().to_string(), d.n, key));
  }
  if (d.residual != Residual::ScaledAdd && !gamma.empty()) {
    throw InvalidArgument(fmt::format("linear: gamma given but residual={} takes none [{}]",
                                      to_string(d.residual), key));
  }
  using onednn::md_dense;
  using dnnl::memory;
  auto prepared = onednn::prepare(key, [&] {
    const dnnl::engine& eng = engine.impl().engine;
    const memory::desc src_md = md_dense({d.m, d.k});
    const memory::desc dst_md = md_dense({d.m, d.n});
    const memory::desc bias_md = d.bias == Bias::Add ? md_dense({1, d.n}) : memory::desc();
    dnnl::primitive_attr attr = onednn::make_attr(d.act);
    // Post-op chain: [act], [* gamma], [+ residual]; each binary operand is addressed by its index
    // in the chain.
    int gamma_index = -1, residual_index = -1;
    if (d.residual != Residual::None) {
      dnnl::post_ops ops = attr.get_post_ops();
      if (d.residual == Residual::ScaledAdd) {
        gamma_index = ops.len();
        ops.append_binary(dnnl::algorithm::binary_mul, md_dense({1, d.n}));
      }
      residual_index = ops.len();
      ops.append_binary(dnnl::algorithm::binary_add, dst_md);
      attr.set_post_ops(ops);
    }
    const auto pd =
        onednn::make_matmul_pd(eng, src_md, onednn::md_any({d.k, d.n}), bias_md, dst_md, attr);
    // The user's [n, k] weights seen as the [k, n] matrix matmul multiplies by: strides {1, k}.
    onednn::PreparedArgs args{.inputs = {{DNNL_ARG_SRC, src_md}}, .dst = {DNNL_ARG_DST, dst_md}};
    if (residual_index >= 0) {
      args.inputs.push_back(
          {DNNL_ARG_ATTR_MULTIPLE_POST_OP(residual_index) | DNNL_ARG_SRC_1, dst_md});
    }
    if (gamma_index >= 0) {
      const memory::desc gamma_md = md_dense({1, d.n});
      const Tensor dense_gamma = Tensor::copy_of(gamma);  // any strides in, [1, n] dense out
      args.constants.emplace(
          DNNL_ARG_ATTR_MULTIPLE_POST_OP(gamma_index) | DNNL_ARG_SRC_1,
          onednn::reorder_into(engine, gamma_md, dense_gamma.cview().data(), gamma_md));
    }
    // A supernet passes slices of larger weights (leading columns: row stride > k), so the view's
    // own strides describe it, not the dense {1, k}; likewise a bias with stride != 1.
    const Strides& ws = weights.strides();
    args.constants.emplace(
        DNNL_ARG_WEIGHTS,
        onednn::reorder_into(engine, onednn::md_of(Shape{d.k, d.n}, Strides{ws[1], ws[0]}),
                             weights.data(), pd.weights_desc()));
    if (d.bias == Bias::Add) {
      const std::int64_t bs = bias.strides()[0];
      args.constants.emplace(
          DNNL_ARG_BIAS,
          onednn::reorder_into(engine, onednn::md_of(Shape{1, d.n}, Strides{d.n * bs, bs}),
                               bias.data(), bias_md));
    }
    return onednn::PreparedPrimitive::create(engine, pd, std::move(args));
  });
  return LinearPlan(std::make_unique<State>(State{.desc = d, .primitive = std::move(prepared)}));
}

void LinearPlan::run(ConstTensorView src, TensorView dst) const {
  const State& s = *state_;
  HWNAS_ASSERT(src.is_contiguous() && src.numel() == s.desc.m * s.desc.k && src.shape()[src.rank() - 1] == s.desc.k);
  HWNAS_ASSERT(dst.is_contiguous() && dst.numel() == s.desc.m * s.desc.n && dst.shape()[dst.rank() - 1] == s.desc.n);
  HWNAS_ASSERT(s.desc.residual == Residual::None);
  s.primitive.run({src.data()}, dst.data());
}

void LinearPlan::run(ConstTensorView src, ConstTensorView residual, TensorView dst) const {
  const State& s = *state_;
  HWNAS_ASSERT(s.desc.residual != Residual::None);
  HWNAS_ASSERT(src.is_contiguous() && src.numel() == s.desc.m * s.desc.k &&
               src.shape()[src.rank() - 1] == s.desc.k);
  HWNAS_ASSERT(dst.is_contiguous() && dst.numel() == s.desc.m * s.desc.n &&
               dst.shape()[dst.rank() - 1] == s.desc.n);
  HWNAS_ASSERT(residual.is_contiguous() && residual.numel() == dst.numel() &&
               residual.data() != dst.data());
  s.primitive.run({src.data(), residual.data()}, dst.data());
}

const LinearDesc& LinearPlan::desc() const { return state_->desc; }
std::string_view LinearPlan::impl_name() const { return state_->primitive.impl_name(); }

}  // namespace hwnas
