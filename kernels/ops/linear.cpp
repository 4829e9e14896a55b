#include "kernels/ops/linear.hpp"

#include <fmt/format.h>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {
constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;
}

std::span<const ParamSpec> linear_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "m", .default_value = "3136", .min = 1, .max = kMaxExtent, .help = "rows (tokens x batch)"},
      {.name = "k", .default_value = "96", .min = 1, .max = kMaxExtent, .help = "input features"},
      {.name = "n", .default_value = "384", .min = 1, .max = kMaxExtent, .help = "output features"},
      {.name = "bias", .default_value = "1", .min = 0, .max = 1, .help = "add a bias"},
      {.name = "act", .default_value = "none",
       .choices = {"none", "relu", "gelu_erf", "gelu_tanh", "silu", "hardswish"},
       .help = "fused activation"},
  };
  return kSpecs;
}

std::string to_string(const LinearDesc& d) {
  return make_key("linear", {{"m", std::to_string(d.m)},
                             {"k", std::to_string(d.k)},
                             {"n", std::to_string(d.n)},
                             {"bias", d.bias == Bias::Add ? "1" : "0"},
                             {"act", std::string(to_string(d.act))}});
}

LinearDesc linear_desc_from(const Params& p) {
  return {.m = p.integer("m"),
          .k = p.integer("k"),
          .n = p.integer("n"),
          .bias = p.integer("bias") != 0 ? Bias::Add : Bias::None,
          .act = parse_activation(p.word("act"))};
}

LinearDesc parse_linear_desc(std::string_view key) {
  return linear_desc_from(Params::from_key("linear", linear_params(), key));
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
  return {.flops = 2.0 * m * k * n,
          .bytes = 4.0 * (m * k + n * k + bias + m * n),
          .params = d.n * d.k + static_cast<std::int64_t>(bias)};
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
                              ConstTensorView bias) {
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
  using onednn::md_dense;
  using dnnl::memory;
  auto prepared = onednn::prepare(key, [&] {
    const dnnl::engine& eng = engine.impl().engine;
    const memory::desc src_md = md_dense({d.m, d.k});
    const memory::desc dst_md = md_dense({d.m, d.n});
    const memory::desc bias_md = d.bias == Bias::Add ? md_dense({1, d.n}) : memory::desc();
    const auto pd = onednn::make_matmul_pd(eng, src_md, onednn::md_any({d.k, d.n}), bias_md, dst_md,
                                           onednn::make_attr(d.act));
    // The user's [n, k] weights seen as the [k, n] matrix matmul multiplies by: strides {1, k}.
    onednn::PreparedArgs args{.inputs = {{DNNL_ARG_SRC, src_md}}, .dst = {DNNL_ARG_DST, dst_md}};
    args.constants.emplace(
        DNNL_ARG_WEIGHTS,
        onednn::reorder_into(engine, onednn::md_of(Shape{d.k, d.n}, Shape{1, d.k}), weights.data(),
                             pd.weights_desc()));
    if (d.bias == Bias::Add) {
      args.constants.emplace(DNNL_ARG_BIAS,
                             onednn::reorder_into(engine, bias_md, bias.data(), bias_md));
    }
    return onednn::PreparedPrimitive::create(engine, pd, std::move(args));
  });
  return LinearPlan(std::make_unique<State>(State{.desc = d, .primitive = std::move(prepared)}));
}

void LinearPlan::run(ConstTensorView src, TensorView dst) const {
  const State& s = *state_;
  HWNAS_ASSERT(src.is_contiguous() && src.numel() == s.desc.m * s.desc.k && src.shape()[src.rank() - 1] == s.desc.k);
  HWNAS_ASSERT(dst.is_contiguous() && dst.numel() == s.desc.m * s.desc.n && dst.shape()[dst.rank() - 1] == s.desc.n);
  s.primitive.run({src.data()}, dst.data());
}

const LinearDesc& LinearPlan::desc() const { return state_->desc; }
std::string_view LinearPlan::impl_name() const { return state_->primitive.impl_name(); }

}  // namespace hwnas
