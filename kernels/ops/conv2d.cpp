#include "kernels/ops/conv2d.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <optional>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/cpu/dwconv_nhwc_avx512.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {
constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;
constexpr std::int64_t kMaxKernel = 1024;
}  // namespace

std::span<const ParamSpec> conv2d_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "n", .default_value = "1", .min = 1, .max = kMaxExtent, .help = "batch"},
      {.name = "h", .default_value = "56", .min = 1, .max = kMaxExtent, .help = "input height"},
      {.name = "w", .default_value = "56", .min = 1, .max = kMaxExtent, .help = "input width"},
      {.name = "ic", .default_value = "96", .min = 1, .max = kMaxExtent, .help = "input channels"},
      {.name = "oc", .default_value = "96", .min = 1, .max = kMaxExtent, .help = "output channels"},
      {.name = "kh", .default_value = "7", .min = 1, .max = kMaxKernel, .help = "kernel height"},
      {.name = "kw", .default_value = "7", .min = 1, .max = kMaxKernel, .help = "kernel width"},
      {.name = "stride_h", .default_value = "1", .min = 1, .max = kMaxKernel, .help = "vertical stride"},
      {.name = "stride_w", .default_value = "1", .min = 1, .max = kMaxKernel, .help = "horizontal stride"},
      {.name = "pad_h", .default_value = "3", .min = 0, .max = kMaxKernel,
       .help = "rows of zeros above and below (symmetric, as PyTorch)"},
      {.name = "pad_w", .default_value = "3", .min = 0, .max = kMaxKernel,
       .help = "columns of zeros left and right (symmetric, as PyTorch)"},
      {.name = "dilation_h", .default_value = "1", .min = 1, .max = kMaxKernel,
       .help = "vertical dilation, 1 = dense (PyTorch's convention)"},
      {.name = "dilation_w", .default_value = "1", .min = 1, .max = kMaxKernel,
       .help = "horizontal dilation, 1 = dense (PyTorch's convention)"},
      {.name = "groups", .default_value = "96", .min = 1, .max = kMaxExtent,
       .help = "channel groups; must divide ic and oc; ic = depthwise"},
      {.name = "bias", .default_value = "1", .min = 0, .max = 1, .help = "add a bias"},
      {.name = "act", .default_value = "none",
       .choices = {"none", "relu", "gelu_erf", "gelu_tanh", "silu", "hardswish", "sigmoid"},
       .help = "fused activation"},
  };
  return kSpecs;
}

std::string to_string(const Conv2dDesc& d) {
  const auto s = [](std::int64_t v) { return std::to_string(v); };
  return make_key("conv2d", {{"n", s(d.n)},
                             {"h", s(d.h)},
                             {"w", s(d.w)},
                             {"ic", s(d.ic)},
                             {"oc", s(d.oc)},
                             {"kh", s(d.kh)},
                             {"kw", s(d.kw)},
                             {"stride_h", s(d.stride_h)},
                             {"stride_w", s(d.stride_w)},
                             {"pad_h", s(d.pad_h)},
                             {"pad_w", s(d.pad_w)},
                             {"dilation_h", s(d.dilation_h)},
                             {"dilation_w", s(d.dilation_w)},
                             {"groups", s(d.groups)},
                             {"bias", d.bias == Bias::Add ? "1" : "0"},
                             {"act", std::string(to_string(d.act))}});
}

Conv2dDesc conv2d_desc_from(const Params& p) {
  return {.n = p.integer("n"),
          .h = p.integer("h"),
          .w = p.integer("w"),
          .ic = p.integer("ic"),
          .oc = p.integer("oc"),
          .kh = p.integer("kh"),
          .kw = p.integer("kw"),
          .stride_h = p.integer("stride_h"),
          .stride_w = p.integer("stride_w"),
          .pad_h = p.integer("pad_h"),
          .pad_w = p.integer("pad_w"),
          .dilation_h = p.integer("dilation_h"),
          .dilation_w = p.integer("dilation_w"),
          .groups = p.integer("groups"),
          .bias = p.integer("bias") != 0 ? Bias::Add : Bias::None,
          .act = parse_activation(p.word("act"))};
}

Conv2dDesc parse_conv2d_desc(std::string_view key) {
  return conv2d_desc_from(Params::from_key("conv2d", conv2d_params(), key));
}

std::int64_t conv2d_out_h(const Conv2dDesc& d) {
  return (d.h + 2 * d.pad_h - d.dilation_h * (d.kh - 1) - 1) / d.stride_h + 1;
}

std::int64_t conv2d_out_w(const Conv2dDesc& d) {
  return (d.w + 2 * d.pad_w - d.dilation_w * (d.kw - 1) - 1) / d.stride_w + 1;
}

Shape conv2d_src_shape(const Conv2dDesc& d) { return {d.n, d.h, d.w, d.ic}; }
Shape conv2d_dst_shape(const Conv2dDesc& d) { return {d.n, conv2d_out_h(d), conv2d_out_w(d), d.oc}; }
Shape conv2d_weights_shape(const Conv2dDesc& d) { return {d.oc, d.ic / d.groups, d.kh, d.kw}; }
bool is_plain_depthwise(const Conv2dDesc& d) { return d.groups == d.ic && d.oc == d.ic; }

void check(const Conv2dDesc& d) {
  const std::string key = to_string(d);
  const auto at_least = [&](std::string_view name, std::int64_t v, std::int64_t lo) {
    if (v < lo) throw InvalidArgument(fmt::format("conv2d: {}={} must be >= {} [{}]", name, v, lo, key));
  };
  at_least("n", d.n, 1);
  at_least("h", d.h, 1);
  at_least("w", d.w, 1);
  at_least("ic", d.ic, 1);
  at_least("oc", d.oc, 1);
  at_least("kh", d.kh, 1);
  at_least("kw", d.kw, 1);
  at_least("stride_h", d.stride_h, 1);
  at_least("stride_w", d.stride_w, 1);
  at_least("pad_h", d.pad_h, 0);
  at_least("pad_w", d.pad_w, 0);
  at_least("dilation_h", d.dilation_h, 1);
  at_least("dilation_w", d.dilation_w, 1);
  at_least("groups", d.groups, 1);
  if (d.ic % d.groups != 0) {
    throw InvalidArgument(fmt::format("conv2d: groups={} must divide ic={} [{}]", d.groups, d.ic, key));
  }
  if (d.oc % d.groups != 0) {
    throw InvalidArgument(fmt::format("conv2d: groups={} must divide oc={} [{}]", d.groups, d.oc, key));
  }
  // The dilated kernel spans dilation*(k-1)+1 input pixels; it must fit in the padded input.
  const auto fits = [&](char axis, std::int64_t size, std::int64_t k, std::int64_t dilation, std::int64_t pad) {
    const std::int64_t span = dilation * (k - 1) + 1;
    if (span > size + 2 * pad) {
      throw InvalidArgument(fmt::format(
          "conv2d: kernel larger than padded input: k{}={} with dilation_{}={} spans {} > {}={} + 2*pad_{}={} = {} [{}]",
          axis, k, axis, dilation, span, axis, size, axis, pad, size + 2 * pad, key));
    }
  };
  fits('h', d.h, d.kh, d.dilation_h, d.pad_h);
  fits('w', d.w, d.kw, d.dilation_w, d.pad_w);
  if (d.act == Activation::StarRelu) {
    throw InvalidArgument(fmt::format("conv2d: act=star_relu cannot be fused; use an eltwise op [{}]", key));
  }
}

OpCost cost(const Conv2dDesc& d) {
  const auto f = [](std::int64_t v) { return static_cast<double>(v); };
  const double out = f(d.n) * f(conv2d_out_h(d)) * f(conv2d_out_w(d)) * f(d.oc);
  const double reduction = f(d.ic / d.groups) * f(d.kh) * f(d.kw);
  const std::int64_t weights = d.oc * (d.ic / d.groups) * d.kh * d.kw;
  const std::int64_t bias = d.bias == Bias::Add ? d.oc : 0;
  return {.flops = 2.0 * out * reduction,
          .bytes = 4.0 * (f(d.n) * f(d.h) * f(d.w) * f(d.ic) + f(weights) + f(bias) + out),
          .params = weights + bias};
}

std::string_view to_string(ConvBackend backend) {
  switch (backend) {
    case ConvBackend::Auto: return "auto";
    case ConvBackend::OneDnn: return "onednn";
    case ConvBackend::Hand: return "hand";
  }
  return "?";
}

namespace {

// oneDNN runs every valid desc (check() has already refused star_relu); a failure when its primitive
// is created becomes Unsupported there.
std::string onednn_why_not(const Conv2dDesc& d) {
  if (!onednn::is_fusable(d.act)) return fmt::format("act={} is not a oneDNN post-op", to_string(d.act));
  return {};
}

// Which backend is faster, by shape: a fixed rule, so a desc always gets the same implementation and
// its measurements stay comparable. Measured on the dev machine (2-core AMD EPYC, Zen 5, AVX-512, FMA
// peak 485 GFLOP/s with 2 threads), 2 threads, batch 1, bias, pad k/2, oneDNN 3.2 (brdgmm_dw), hand
// and oneDNN runs interleaved, median of 100 samples of ~200 us, GFLOP/s = 2*n*oh*ow*c*kh*kw / time.
// hand/onednn GFLOP/s at k = 3, 5, 7, 9, 11, 13:
//   stride 1  56x56x96   163/147 289/182 346/181 372/186 380/194 396/201   (1.11 .. 2.00)
//             28x28x192  159/138 283/166 349/182 384/195 405/205 439/224   (1.16 .. 1.98)
//             14x14x384  145/119 262/175 323/204 404/231 434/255 498/286   (1.22 .. 1.75)
//             7x7x768    108/101 213/167 286/216 346/260 407/318 470/395   (1.07 .. 1.33)
//   stride 2  56x56x96    80/106 158/134 218/140 252/148 277/167 275/169   (0.75, then 1.19 .. 1.70)
//             28x28x192   70/80  150/124 232/152 290/176 312/188 326/202   (0.87, then 1.20 .. 1.66)
//             14x14x384   60/67  134/121 200/156 252/180 287/197 306/215   (0.89, then 1.11 .. 1.46)
//             7x7x768     75/81  110/121 159/168 203/209 245/258 270/279   (0.91 .. 0.97: 4x4 output)
// Band kernels (InceptionNeXt), stride 1, hand/onednn ratio:
//   1xk (kh=1):  c <= 48: 1.17 .. 1.88 (1x11 at 56x56x12, 28x28x24, 14x14x48, 56x56x48; 1x7 at
//                56x56x48: 0.99); c >= 96: 0.77 .. 1.09 (one exception, 7x7x96 1x11: 1.41). With one
//                tap row there is nothing to reuse across rows, and oneDNN is strong at wide c.
//   kx1 (kw=1):  c >= 24: 1.02 .. 2.12; c = 12: 0.90 (4 of 16 lanes idle, no reuse along x).
// Dilation: a stride-1 dilated row runs as D undilated phases on the fast path (2026-11-22,
// bench/conv_mixer_results.py and bench/compare.py, 3 interleaved rounds, hand/onednn time):
// 56x56x96: 7x7 d2 0.89, 7x7 d3 0.09 (oneDNN falls back to jit:avx512_core), 5x5 d2 1.23,
// 3x3 d3 1.72; 14x14x384: 7x7 d2 0.82, 5x5 d2 0.78. The short phases (56/D columns) cost the small
// kernels their tile efficiency, so hand for kw >= 7 only; dilated and strided stays on oneDNN.
// Shapes outside these families (mixed strides, kernels 2 wide, stride > 2) were not measured and
// stay on oneDNN.
bool hand_is_faster(const Conv2dDesc& d) {
  if (d.dilation_h != 1 || d.dilation_w != 1) {
    return d.stride_h == 1 && d.stride_w == 1 && d.kw >= 7 && d.kw <= 13 && d.kh <= 13;
  }
  if (d.kw > 13 || d.kh > 13) return false;
  if (d.stride_h != d.stride_w || d.stride_h > 2) return false;
  if (d.stride_h == 2) return d.kh >= 5 && d.kw >= 5 && conv2d_out_w(d) >= 7;
  if (d.kh == 1 && d.kw >= 3) return d.ic <= 48;
  if (d.kw == 1 && d.kh >= 3) return d.ic >= 16;
  return d.kh >= 3 && d.kw >= 3;
}

dnnl::memory::desc nhwc_md(std::int64_t n, std::int64_t c, std::int64_t h, std::int64_t w) {
  return dnnl::memory::desc({n, c, h, w}, dnnl::memory::data_type::f32, dnnl::memory::format_tag::nhwc);
}

onednn::PreparedPrimitive create_onednn(const Engine& engine, const Conv2dDesc& d, ConstTensorView weights,
                                        ConstTensorView bias, ConvAlgorithm algorithm) {
  using dnnl::memory;
  const dnnl::engine& eng = engine.impl().engine;
  const std::int64_t oh = conv2d_out_h(d), ow = conv2d_out_w(d);
  const std::int64_t icg = d.ic / d.groups, ocg = d.oc / d.groups;
  // The user's OIHW weights, as oneDNN's oihw (groups == 1) or goihw: [g, oc/g, ic/g, kh, kw], where
  // the group axis strides over oc/g output channels.
  const Strides& s = weights.strides();
  const bool grouped = d.groups > 1;
  const memory::desc user_w_md =
      grouped ? onednn::md_of(Shape{d.groups, ocg, icg, d.kh, d.kw}, Shape{ocg * s[0], s[0], s[1], s[2], s[3]})
              : onednn::md_of(weights.shape(), s);
  const memory::desc any_w_md = onednn::md_any(grouped ? Shape{d.groups, ocg, icg, d.kh, d.kw} : weights.shape());
  const memory::desc src_md = nhwc_md(d.n, d.ic, d.h, d.w);
  const memory::desc dst_md = nhwc_md(d.n, d.oc, oh, ow);
  const memory::desc bias_md = d.bias == Bias::Add ? onednn::md_dense({d.oc}) : memory::desc();
  const onednn::Dims pad = {d.pad_h, d.pad_w};
  // PyTorch's dilation 1 is oneDNN's 0 (oneDNN counts the inserted gaps).
  const auto pd = onednn::make_conv_pd(
      eng, algorithm == ConvAlgorithm::Direct ? dnnl::algorithm::convolution_direct : dnnl::algorithm::convolution_auto,
      src_md, any_w_md, bias_md, dst_md, {d.stride_h, d.stride_w}, {d.dilation_h - 1, d.dilation_w - 1}, pad, pad,
      onednn::make_attr(d.act));
  onednn::PreparedArgs args{.inputs = {{DNNL_ARG_SRC, pd.src_desc()}}, .dst = {DNNL_ARG_DST, pd.dst_desc()}};
  args.constants.emplace(DNNL_ARG_WEIGHTS,
                         onednn::reorder_into(engine, user_w_md, weights.data(), pd.weights_desc()));
  if (d.bias == Bias::Add) {
    args.constants.emplace(DNNL_ARG_BIAS,
                           onednn::reorder_into(engine, onednn::md_of(bias), bias.data(), pd.bias_desc()));
  }
  return onednn::PreparedPrimitive::create(engine, pd, std::move(args));
}

}  // namespace

ConvBackend conv2d_auto_backend(const Conv2dDesc& d) {
  const bool hand_runs = cpu::DwconvNhwcAvx512::why_not(d).empty();
  return hand_runs && hand_is_faster(d) ? ConvBackend::Hand : ConvBackend::OneDnn;
}

struct Conv2dPlan::State {
  Conv2dDesc desc;
  ConvBackend backend = ConvBackend::OneDnn;
  std::optional<onednn::PreparedPrimitive> onednn;
  std::optional<cpu::DwconvNhwcAvx512> hand;
  std::string impl;
};

Conv2dPlan::Conv2dPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
Conv2dPlan::Conv2dPlan(Conv2dPlan&&) noexcept = default;
Conv2dPlan& Conv2dPlan::operator=(Conv2dPlan&&) noexcept = default;
Conv2dPlan::~Conv2dPlan() = default;

Conv2dPlan Conv2dPlan::create(const Engine& engine, const Conv2dDesc& d, ConstTensorView weights,
                              ConstTensorView bias, const Conv2dOptions& options) {
  check(d);
  const std::string key = to_string(d);
  if (weights.dtype() != DType::F32) {
    throw InvalidArgument(fmt::format("conv2d: weights dtype={} is unsupported, expected f32 [{}]",
                                      to_string(weights.dtype()), key));
  }
  if (!(weights.shape() == conv2d_weights_shape(d))) {
    throw InvalidArgument(fmt::format("conv2d: weights shape {} must be [oc={}, ic/groups={}, kh={}, kw={}] [{}]",
                                      weights.shape().to_string(), d.oc, d.ic / d.groups, d.kh, d.kw, key));
  }
  if (d.bias == Bias::Add) {
    if (bias.dtype() != DType::F32) {
      throw InvalidArgument(fmt::format("conv2d: bias dtype={} is unsupported, expected f32 [{}]",
                                        to_string(bias.dtype()), key));
    }
    if (!(bias.shape() == Shape{d.oc})) {
      throw InvalidArgument(
          fmt::format("conv2d: bias shape {} must be [oc={}] [{}]", bias.shape().to_string(), d.oc, key));
    }
  }

  // Candidates in order of preference; the first whose why_not() is empty runs.
  std::vector<ConvBackend> order;
  switch (options.backend) {
    case ConvBackend::Auto:
      order = conv2d_auto_backend(d) == ConvBackend::Hand
                  ? std::vector<ConvBackend>{ConvBackend::Hand, ConvBackend::OneDnn}
                  : std::vector<ConvBackend>{ConvBackend::OneDnn, ConvBackend::Hand};
      break;
    case ConvBackend::OneDnn:
    case ConvBackend::Hand: order = {options.backend}; break;
  }
  std::vector<std::string> reasons;
  auto state = std::make_unique<State>(State{.desc = d});
  for (const ConvBackend backend : order) {
    const bool hand = backend == ConvBackend::Hand;
    const std::string why = hand ? cpu::DwconvNhwcAvx512::why_not(d) : onednn_why_not(d);
    if (!why.empty()) {
      reasons.push_back(fmt::format("{}: {}", hand ? cpu::DwconvNhwcAvx512::kName : "onednn", why));
      continue;
    }
    state->backend = backend;
    if (hand) {
      state->hand = cpu::DwconvNhwcAvx512::create(engine, d, weights, bias);
      state->impl = std::string(cpu::DwconvNhwcAvx512::kName);
    } else {
      state->onednn = onednn::prepare(
          key, [&] { return create_onednn(engine, d, weights, bias, options.onednn_algorithm); });
      state->impl = std::string(state->onednn->impl_name());
    }
    return Conv2dPlan(std::move(state));
  }
  throw Unsupported(fmt::format("conv2d: backend={} cannot run {}: {}", to_string(options.backend), key,
                                fmt::join(reasons, "; ")));
}

void Conv2dPlan::run(ConstTensorView src, TensorView dst) const {
  const State& s = *state_;
  HWNAS_ASSERT(src.dtype() == DType::F32 && src.is_contiguous() && src.shape() == conv2d_src_shape(s.desc));
  HWNAS_ASSERT(dst.dtype() == DType::F32 && dst.is_contiguous() && dst.shape() == conv2d_dst_shape(s.desc));
  if (s.hand) {
    s.hand->run(src.f32(), dst.f32());
    return;
  }
  s.onednn->run({src.data()}, dst.data());
}

const Conv2dDesc& Conv2dPlan::desc() const { return state_->desc; }
ConvBackend Conv2dPlan::backend() const { return state_->backend; }
std::string_view Conv2dPlan::impl_name() const { return state_->impl; }

}  // namespace hwnas
