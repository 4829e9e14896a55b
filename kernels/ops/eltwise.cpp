#include "kernels/ops/eltwise.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <optional>
#include <unordered_map>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/cpu/eltwise_avx512.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {

constexpr std::int64_t kMaxNumel = std::int64_t{1} << 40;

// Elements per OpenMP task of the hand-written loop: 64 KiB of src, enough to amortise the fork and
// small enough that 2-16 threads all get work on a 56x56x96 activation.
constexpr std::int64_t kChunk = std::int64_t{1} << 14;

// One clone per ISA, picked by the dynamic loader from what the CPU reports, so the build stays
// portable while the loop is as wide as the machine.
#if defined(__x86_64__) && defined(__GNUC__)
#define HWNAS_ISA_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define HWNAS_ISA_CLONES
#endif

// relu(x) is written as (x + |x|) / 2, not max(x, 0): under the default -ftrapping-math GCC keeps a
// float compare-and-select as a branch and will not vectorise the loop (measured 100x slower on
// random signs). The form is exact: doubling and halving round nothing, NaN stays NaN, and it
// overflows only for x > FLT_MAX / 2, where r * r is already inf.
HWNAS_ISA_CLONES void star_relu_kernel(const float* src, float* dst, std::int64_t n, float scale,
                                       float bias) noexcept {
#pragma omp simd
  for (std::int64_t i = 0; i < n; ++i) {
    const float x = src[i];
    const float r = 0.5f * (x + std::abs(x));
    dst[i] = scale * (r * r) + bias;
  }
}

double flops_per_element(Activation act) {
  switch (act) {
    case Activation::None:
      return 0;
    case Activation::Relu:
      return 1;  // max
    case Activation::GeluErf:
      return 5;  // scale, erf, add, mul, halve
    case Activation::GeluTanh:
      return 9;  // cube (2), scale, add, scale, tanh, add, mul, halve
    case Activation::Silu:
      return 3;  // exp, add, divide
    case Activation::StarRelu:
      return 4;  // max, square, scale, add
    case Activation::Hardswish:
      return 5;  // add, min, max, mul, divide
    case Activation::Sigmoid:
      return 3;  // exp, add, divide
  }
  return 0;
}

}  // namespace

std::span<const ParamSpec> eltwise_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "numel",
       .default_value = "1204224",
       .min = 1,
       .max = kMaxNumel,
       .help = "elements (e.g. 3136 tokens x 384 MLP features)"},
      {.name = "act",
       .default_value = "gelu_erf",
       .choices = {std::begin(kActivationNames), std::end(kActivationNames)},
       .help = "activation (none = copy)"},
  };
  return kSpecs;
}

std::string to_string(const EltwiseDesc& d) {
  return make_key("eltwise",
                  {{"numel", std::to_string(d.numel)}, {"act", std::string(to_string(d.act))}});
}

EltwiseDesc eltwise_desc_from(const Params& p) {
  return {.numel = p.integer("numel"), .act = parse_activation(p.word("act"))};
}

EltwiseDesc parse_eltwise_desc(std::string_view key) {
  return eltwise_desc_from(Params::from_key("eltwise", eltwise_params(), key));
}

void check(const EltwiseDesc& d) {
  if (d.numel < 1) {
    throw InvalidArgument(
        fmt::format("eltwise: numel={} must be >= 1 [{}]", d.numel, to_string(d)));
  }
}

OpCost cost(const EltwiseDesc& d) {
  const double elements = static_cast<double>(d.numel);
  return {.flops = flops_per_element(d.act) * elements,
          .bytes = 4.0 * 2.0 * elements,
          .params = d.act == Activation::StarRelu ? 2 : 0};
}

namespace {

constexpr std::string_view kStarReluName = "hand:star_relu";

// Which backend is faster, by shape: a fixed rule, so a desc always gets the same implementation and
// its measurements stay comparable. Measured on the dev machine (2-core AMD EPYC, Zen 5, AVX-512),
// 2 threads, oneDNN 3.2 (jit:avx512_core), bench/compare.py interleaving backend=onednn and
// backend=hand, 3 rounds, hand/onednn time ratio median [min, max], on a loaded host:
//   numel=1204224 gelu_erf   1.12 [1.06, 1.13]   (0.168 vs 0.150 ms: oneDNN's erf is cheaper)
//   numel=1204224 gelu_tanh  0.54 [0.53, 0.56]
//   numel=1204224 silu       0.48 [0.45, 1.00]
// Arrays below 64K elements were not measured reliably (oneDNN's medians there swung 1000x with
// the host's load) and stay on oneDNN.
bool hand_is_faster(const EltwiseDesc& d) {
  constexpr std::int64_t kMinMeasured = std::int64_t{1} << 16;
  return (d.act == Activation::GeluTanh || d.act == Activation::Silu) && d.numel >= kMinMeasured;
}

// The hand-written implementation for d.act: the StarReLU loop or the AVX-512 kernels. Empty when it
// can run d, else why not.
std::string hand_why_not(const EltwiseDesc& d) {
  if (d.act == Activation::StarRelu) return {};
  return cpu::EltwiseAvx512::why_not(d);
}

std::string onednn_why_not(const EltwiseDesc& d) {
  if (d.act == Activation::StarRelu) {
    return "act=star_relu is not a oneDNN algorithm (its post-op composition runs ref:any)";
  }
  return {};
}

onednn::PreparedPrimitive create_onednn(const Engine& engine, const EltwiseDesc& d,
                                        std::string_view key) {
  return onednn::prepare(key, [&] {
    const dnnl::memory::desc data_md = onednn::md_dense({d.numel});
    const onednn::EltwiseAlg alg = onednn::eltwise_alg(d.act);
    const auto pd = onednn::make_eltwise_pd(engine.impl().engine, alg.algorithm, data_md, data_md,
                                            alg.alpha, alg.beta, onednn::make_attr());
    return onednn::PreparedPrimitive::create(
        engine, pd, {.inputs = {{DNNL_ARG_SRC, data_md}}, .dst = {DNNL_ARG_DST, data_md}});
  });
}

}  // namespace

KernelBackend eltwise_auto_backend(const EltwiseDesc& d) {
  if (!onednn_why_not(d).empty()) return KernelBackend::Hand;
  const bool hand_runs = hand_why_not(d).empty();
  return hand_runs && hand_is_faster(d) ? KernelBackend::Hand : KernelBackend::OneDnn;
}

struct EltwisePlan::State {
  EltwiseDesc desc;
  Engine engine;
  StarReluCoeffs star;
  KernelBackend backend = KernelBackend::OneDnn;
  std::optional<onednn::PreparedPrimitive> onednn;  // empty on the hand paths
  std::string impl;
};

EltwisePlan::EltwisePlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
EltwisePlan::EltwisePlan(EltwisePlan&&) noexcept = default;
EltwisePlan& EltwisePlan::operator=(EltwisePlan&&) noexcept = default;
EltwisePlan::~EltwisePlan() = default;

EltwisePlan EltwisePlan::create(const Engine& engine, const EltwiseDesc& d,
                                const StarReluCoeffs& star, const EltwiseOptions& options) {
  check(d);
  const std::string key = to_string(d);
  if (d.act == Activation::StarRelu && (!std::isfinite(star.scale) || !std::isfinite(star.bias))) {
    throw InvalidArgument(fmt::format("eltwise: star_relu scale={} and bias={} must be finite [{}]",
                                      star.scale, star.bias, key));
  }
  const KernelBackend backend =
      select_backend("eltwise", key, options.backend, eltwise_auto_backend(d),
                     {.hand_why_not = hand_why_not(d), .onednn_why_not = onednn_why_not(d)});
  auto state = std::make_unique<State>(State{.desc = d, .engine = engine, .star = star});
  if (backend == KernelBackend::Hand) {
    state->impl =
        std::string(d.act == Activation::StarRelu ? kStarReluName : cpu::EltwiseAvx512::kName);
  } else {
    state->onednn = create_onednn(engine, d, key);
    state->impl = std::string(state->onednn->impl_name());
  }
  state->backend = backend;
  return EltwisePlan(std::move(state));
}

void EltwisePlan::run(ConstTensorView src, TensorView dst) const {
  const EltwiseDesc& d = state_->desc;
  HWNAS_ASSERT(src.is_contiguous() && src.numel() == d.numel && src.dtype() == DType::F32);
  HWNAS_ASSERT(dst.is_contiguous() && dst.numel() == d.numel && dst.dtype() == DType::F32);
  State& s = *state_;
  if (s.onednn) {
    s.onednn->run({src.data()}, dst.data());
    return;
  }
  const float* in = src.f32();
  float* out = dst.f32();
  if (d.act != Activation::StarRelu) {
    cpu::EltwiseAvx512::run(d, in, out, s.engine.threads());
    return;
  }
  const float scale = s.star.scale, bias = s.star.bias;
  const std::int64_t chunks = (d.numel + kChunk - 1) / kChunk;
  const int threads = static_cast<int>(std::min<std::int64_t>(s.engine.threads(), chunks));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t chunk = 0; chunk < chunks; ++chunk) {
    const std::int64_t begin = chunk * kChunk;
    star_relu_kernel(in + begin, out + begin, std::min(kChunk, d.numel - begin), scale, bias);
  }
}

const EltwiseDesc& EltwisePlan::desc() const { return state_->desc; }
KernelBackend EltwisePlan::backend() const { return state_->backend; }
std::string_view EltwisePlan::impl_name() const { return state_->impl; }

}  // namespace hwnas
