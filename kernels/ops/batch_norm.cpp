#include "kernels/ops/batch_norm.hpp"

#include <fmt/format.h>

#include <cmath>
#include <utility>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;

float element(const ConstTensorView& vector, std::int64_t i) {
  return vector.f32()[i * vector.strides()[0]];
}

// Checks the four [c] tensors and that every var + eps is positive (a zero or negative one would
// turn the channel into inf/NaN at run time, far from the cause). `where` starts each message.
void check_weights(std::string_view where, const BatchNormWeights& bn, std::int64_t c, float eps,
                   std::string_view suffix) {
  const std::pair<std::string_view, const ConstTensorView*> named[] = {
      {"mean", &bn.mean}, {"var", &bn.var}, {"gamma", &bn.gamma}, {"beta", &bn.beta}};
  for (const auto& [name, view] : named) {
    if (view->dtype() != DType::F32) {
      throw InvalidArgument(fmt::format("{}: {} dtype={} is unsupported, expected f32{}", where,
                                        name, to_string(view->dtype()), suffix));
    }
    if (view->empty() || !(view->shape() == Shape{c})) {
      throw InvalidArgument(fmt::format("{}: {} shape {} must be [c={}]{}", where, name,
                                        view->shape().to_string(), c, suffix));
    }
  }
  for (std::int64_t i = 0; i < c; ++i) {
    const float var = element(bn.var, i);
    if (!(static_cast<double>(var) + static_cast<double>(eps) > 0) || !std::isfinite(var)) {
      throw InvalidArgument(
          fmt::format("{}: var[{}]={} must be finite with var + eps > 0 (eps={}){}", where, i, var,
                      eps, suffix));
    }
  }
}

}  // namespace

std::span<const ParamSpec> batch_norm_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "n", .default_value = "1", .min = 1, .max = kMaxExtent, .help = "batch"},
      {.name = "h", .default_value = "56", .min = 1, .max = kMaxExtent, .help = "height"},
      {.name = "w", .default_value = "56", .min = 1, .max = kMaxExtent, .help = "width"},
      {.name = "c", .default_value = "96", .min = 1, .max = kMaxExtent, .help = "channels"},
      {.name = "eps",
       .default_value = "1e-05",
       .min = 0,
       .max = 1,
       .help = "added to the variance (> 0)",
       .kind = ParamSpec::Kind::Real},
  };
  return kSpecs;
}

std::string to_string(const BatchNormDesc& d) {
  // fmt writes a float in the shortest form that reads back as the same float.
  return make_key("batch_norm", {{"n", std::to_string(d.n)},
                                 {"h", std::to_string(d.h)},
                                 {"w", std::to_string(d.w)},
                                 {"c", std::to_string(d.c)},
                                 {"eps", fmt::format("{}", d.eps)}});
}

BatchNormDesc batch_norm_desc_from(const Params& p) {
  return {.n = p.integer("n"),
          .h = p.integer("h"),
          .w = p.integer("w"),
          .c = p.integer("c"),
          .eps = static_cast<float>(p.real("eps"))};
}

BatchNormDesc parse_batch_norm_desc(std::string_view key) {
  const BatchNormDesc desc =
      batch_norm_desc_from(Params::from_key("batch_norm", batch_norm_params(), key));
  check(desc);  // the rules that span fields, which the ParamSpec ranges cannot express
  return desc;
}

void check(const BatchNormDesc& d) {
  const auto positive = [&](std::string_view name, std::int64_t v) {
    if (v < 1) {
      throw InvalidArgument(
          fmt::format("batch_norm: {}={} must be >= 1 [{}]", name, v, to_string(d)));
    }
  };
  positive("n", d.n);
  positive("h", d.h);
  positive("w", d.w);
  positive("c", d.c);
  if (!(d.eps > 0) || !std::isfinite(d.eps)) {
    throw InvalidArgument(
        fmt::format("batch_norm: eps={} must be finite and > 0 [{}]", d.eps, to_string(d)));
  }
}

OpCost cost(const BatchNormDesc& d) {
  const double elements = static_cast<double>(d.n * d.h * d.w * d.c);
  const double c = static_cast<double>(d.c);
  return {.flops = 2.0 * elements, .bytes = 4.0 * (2.0 * elements + 4.0 * c), .params = 2 * d.c};
}

struct BatchNormPlan::State {
  BatchNormDesc desc;
  onednn::PreparedPrimitive primitive;  // owns mean, var, scale and shift
};

BatchNormPlan::BatchNormPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
BatchNormPlan::BatchNormPlan(BatchNormPlan&&) noexcept = default;
BatchNormPlan& BatchNormPlan::operator=(BatchNormPlan&&) noexcept = default;
BatchNormPlan::~BatchNormPlan() = default;

BatchNormPlan BatchNormPlan::create(const Engine& engine, const BatchNormDesc& d,
                                    const BatchNormWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights("batch_norm", weights, d.c, d.eps, fmt::format(" [{}]", key));

  using dnnl::memory;
  auto prepared = onednn::prepare(key, [&] {
    const dnnl::engine& eng = engine.impl().engine;
    // oneDNN's dims are logically (n, c, h, w) whatever the layout; these strides make it NHWC.
    const memory::desc data_md =
        onednn::md_of(Shape{d.n, d.c, d.h, d.w}, Strides{d.h * d.w * d.c, 1, d.w * d.c, d.c});
    const auto flags = dnnl::normalization_flags::use_global_stats | onednn::scale_shift_flags();
    const auto pd =
        onednn::make_batch_norm_pd(eng, data_md, data_md, d.eps, flags, onednn::make_attr());
    const memory::desc vector_md = onednn::md_dense({d.c});
    const auto copy_in = [&](const ConstTensorView& view) {
      return onednn::reorder_into(engine, onednn::md_of(view), view.data(), vector_md);
    };
    onednn::PreparedArgs args{.inputs = {{DNNL_ARG_SRC, data_md}}, .dst = {DNNL_ARG_DST, data_md}};
    args.constants = {{DNNL_ARG_MEAN, copy_in(weights.mean)},
                      {DNNL_ARG_VARIANCE, copy_in(weights.var)},
                      {DNNL_ARG_SCALE, copy_in(weights.gamma)},
                      {DNNL_ARG_SHIFT, copy_in(weights.beta)}};
    return onednn::PreparedPrimitive::create(engine, pd, std::move(args));
  });
  return BatchNormPlan(std::make_unique<State>(State{.desc = d, .primitive = std::move(prepared)}));
}

void BatchNormPlan::run(ConstTensorView src, TensorView dst) const {
  [[maybe_unused]] const BatchNormDesc& d = state_->desc;
  [[maybe_unused]] const std::int64_t elements = d.n * d.h * d.w * d.c;
  HWNAS_ASSERT(src.dtype() == DType::F32 && src.is_contiguous() && src.numel() == elements &&
               src.shape()[src.rank() - 1] == d.c);
  HWNAS_ASSERT(dst.dtype() == DType::F32 && dst.is_contiguous() && dst.numel() == elements &&
               dst.shape()[dst.rank() - 1] == d.c);
  state_->primitive.run({src.data()}, dst.data());
}

const BatchNormDesc& BatchNormPlan::desc() const { return state_->desc; }
std::string_view BatchNormPlan::impl_name() const { return state_->primitive.impl_name(); }

FoldedConv fold_batch_norm(ConstTensorView weights, ConstTensorView bias,
                           const BatchNormWeights& bn, float eps) {
  if (weights.dtype() != DType::F32 || (!bias.empty() && bias.dtype() != DType::F32)) {
    throw InvalidArgument(
        fmt::format("fold_batch_norm: conv weights dtype={} and bias dtype={} must be f32",
                    to_string(weights.dtype()), to_string(bias.dtype())));
  }
  if (weights.rank() != 4 || weights.numel() == 0) {
    throw InvalidArgument(
        fmt::format("fold_batch_norm: conv weights shape {} must be OIHW [oc, ic/groups, kh, kw]",
                    weights.shape().to_string()));
  }
  const std::int64_t oc = weights.dim(0);
  if (!bias.empty() && !(bias.shape() == Shape{oc})) {
    throw InvalidArgument(
        fmt::format("fold_batch_norm: conv bias shape {} must be [oc={}] or empty",
                    bias.shape().to_string(), oc));
  }
  if (!(eps > 0) || !std::isfinite(eps)) {
    throw InvalidArgument(fmt::format("fold_batch_norm: eps={} must be finite and > 0", eps));
  }
  check_weights("fold_batch_norm", bn, oc, eps,
                fmt::format(" (conv weights {} have oc={})", weights.shape().to_string(), oc));

  FoldedConv folded{.weights = Tensor::copy_of(weights), .bias = Tensor::empty({oc})};
  const std::int64_t per_channel = weights.numel() / oc;  // contiguous OIHW: one block per oc
  float* w = folded.weights.f32();
  for (std::int64_t o = 0; o < oc; ++o) {
    const double s = static_cast<double>(element(bn.gamma, o)) /
                     std::sqrt(static_cast<double>(element(bn.var, o)) + static_cast<double>(eps));
    for (std::int64_t i = 0; i < per_channel; ++i) {
      w[o * per_channel + i] = static_cast<float>(static_cast<double>(w[o * per_channel + i]) * s);
    }
    const double b = bias.empty() ? 0.0 : static_cast<double>(element(bias, o));
    folded.bias.f32()[o] = static_cast<float>((b - static_cast<double>(element(bn.mean, o))) * s +
                                              static_cast<double>(element(bn.beta, o)));
  }
  return folded;
}

}  // namespace hwnas
