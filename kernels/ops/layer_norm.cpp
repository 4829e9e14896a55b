#include "kernels/ops/layer_norm.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <iterator>
#include <optional>
#include <unordered_map>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/cpu/layer_norm_avx512.hpp"
#include "kernels/error.hpp"
#include "kernels/onednn/dnnl_util.hpp"
#include "kernels/onednn/prepared_primitive.hpp"

namespace hwnas {

namespace {

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;

// Float literals, not pow(10, -k): each is the correctly rounded f32 of its name in
// kLayerNormEpsNames.
constexpr float kLayerNormEps[] = {1e-3f, 1e-4f, 1e-5f,  1e-6f,  1e-7f,
                                   1e-8f, 1e-9f, 1e-10f, 1e-11f, 1e-12f};
static_assert(std::size(kLayerNormEps) == std::size(kLayerNormEpsNames));

constexpr std::string_view kAffineNames[] = {"none", "scale", "scale_shift"};

// Index of eps in kLayerNormEps, or -1.
int eps_index(float eps) {
  for (std::size_t i = 0; i < std::size(kLayerNormEps); ++i) {
    if (kLayerNormEps[i] == eps) return static_cast<int>(i);
  }
  return -1;
}

}  // namespace

std::span<const ParamSpec> layer_norm_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "rows",
       .default_value = "3136",
       .min = 1,
       .max = kMaxExtent,
       .help = "rows normalised independently (tokens x batch)"},
      {.name = "c",
       .default_value = "96",
       .min = 1,
       .max = kMaxExtent,
       .help = "normalised (last) axis"},
      {.name = "eps",
       .default_value = "1e-5",
       .choices = {std::begin(kLayerNormEpsNames), std::end(kLayerNormEpsNames)},
       .help = "added to the variance (PyTorch's default 1e-5)"},
      {.name = "affine",
       .default_value = "scale_shift",
       .choices = {std::begin(kAffineNames), std::end(kAffineNames)},
       .help = "gamma and beta, gamma only, or neither"},
  };
  return kSpecs;
}

std::string to_string(const LayerNormDesc& d) {
  const int eps = eps_index(d.eps);
  // A desc that fails check() still needs a readable key for its error message.
  const std::string eps_text =
      eps >= 0 ? std::string(kLayerNormEpsNames[eps]) : fmt::format("{}", d.eps);
  return make_key("layer_norm",
                  {{"rows", std::to_string(d.rows)},
                   {"c", std::to_string(d.c)},
                   {"eps", eps_text},
                   {"affine", std::string(kAffineNames[static_cast<std::size_t>(d.affine)])}});
}

LayerNormDesc layer_norm_desc_from(const Params& p) {
  LayerNormDesc d{.rows = p.integer("rows"), .c = p.integer("c")};
  // Params has already checked both words against their choices.
  for (std::size_t i = 0; i < std::size(kLayerNormEpsNames); ++i) {
    if (kLayerNormEpsNames[i] == p.word("eps")) d.eps = kLayerNormEps[i];
  }
  for (std::size_t i = 0; i < std::size(kAffineNames); ++i) {
    if (kAffineNames[i] == p.word("affine")) d.affine = static_cast<LayerNormAffine>(i);
  }
  return d;
}

LayerNormDesc parse_layer_norm_desc(std::string_view key) {
  return layer_norm_desc_from(Params::from_key("layer_norm", layer_norm_params(), key));
}

void check(const LayerNormDesc& d) {
  const auto positive = [&](std::string_view name, std::int64_t v) {
    if (v < 1) {
      throw InvalidArgument(
          fmt::format("layer_norm: {}={} must be >= 1 [{}]", name, v, to_string(d)));
    }
  };
  positive("rows", d.rows);
  positive("c", d.c);
  if (eps_index(d.eps) < 0) {
    throw InvalidArgument(
        fmt::format("layer_norm: eps={} must be one of {} (keys carry eps as a power of ten) [{}]",
                    d.eps, fmt::join(kLayerNormEpsNames, ", "), to_string(d)));
  }
}

OpCost cost(const LayerNormDesc& d) {
  const double elements = static_cast<double>(d.rows) * static_cast<double>(d.c);
  std::int64_t params = 0;
  // Mean 1 (add), variance 3 (sub, square, add), normalise 2 (sub, mul), then 1 per affine term.
  double flops_per_element = 6;
  if (d.affine != LayerNormAffine::None) {
    params += d.c;
    flops_per_element += 1;
  }
  if (d.affine == LayerNormAffine::ScaleShift) {
    params += d.c;
    flops_per_element += 1;
  }
  return {.flops = flops_per_element * elements,
          .bytes = 4.0 * (2.0 * elements + static_cast<double>(params)),
          .params = params};
}

namespace {

// Which backend is faster, by shape: a fixed rule, so a desc always gets the same implementation and
// its measurements stay comparable. Measured on the dev machine (2-core AMD EPYC, Zen 5, AVX-512),
// 2 threads, oneDNN 3.2 (jit:uni), bench/compare.py interleaving backend=onednn and backend=hand,
// 3 rounds, hand/onednn time ratio median [min, max], on a loaded host:
//   rows=3136 c=96   1.17 [1.13, 1.22]   (0.040 vs 0.035 ms: oneDNN is faster on short rows)
//   rows=49 c=768    0.89 [0.87, 0.90]
// Widths between were not measured; they stay on oneDNN.
bool hand_is_faster(const LayerNormDesc& d) { return d.c >= 768; }

onednn::PreparedPrimitive create_onednn(const Engine& engine, const LayerNormDesc& d,
                                        ConstTensorView gamma, ConstTensorView beta,
                                        std::string_view key) {
  return onednn::prepare(key, [&] {
    using dnnl::normalization_flags;
    const bool use_scale = d.affine != LayerNormAffine::None;
    const bool use_shift = d.affine == LayerNormAffine::ScaleShift;
    const dnnl::memory::desc data_md = onednn::md_dense({d.rows, d.c});
    const dnnl::memory::desc affine_md = onednn::md_dense({d.c});
    // Forward inference without use_global_stats: oneDNN computes mean and variance per row into
    // the scratchpad, so no statistics memory is passed.
    auto flags = normalization_flags::none;
    if (use_scale) flags |= normalization_flags::use_scale;
    if (use_shift) flags |= normalization_flags::use_shift;
    const auto pd = onednn::make_layer_norm_pd(engine.impl().engine, data_md, data_md, d.eps, flags,
                                               onednn::make_attr());
    onednn::PreparedArgs args{.inputs = {{DNNL_ARG_SRC, data_md}}, .dst = {DNNL_ARG_DST, data_md}};
    // Copies, not views: the plan must not depend on the caller keeping gamma and beta alive.
    if (use_scale) {
      args.constants.emplace(DNNL_ARG_SCALE, onednn::reorder_into(engine, onednn::md_of(gamma),
                                                                  gamma.data(), affine_md));
    }
    if (use_shift) {
      args.constants.emplace(DNNL_ARG_SHIFT, onednn::reorder_into(engine, onednn::md_of(beta),
                                                                  beta.data(), affine_md));
    }
    return onednn::PreparedPrimitive::create(engine, pd, std::move(args));
  });
}

}  // namespace

KernelBackend layer_norm_auto_backend(const LayerNormDesc& d) {
  const bool hand_runs = cpu::LayerNormAvx512::why_not(d).empty();
  return hand_runs && hand_is_faster(d) ? KernelBackend::Hand : KernelBackend::OneDnn;
}

struct LayerNormPlan::State {
  LayerNormDesc desc;
  Engine engine;
  KernelBackend backend = KernelBackend::OneDnn;
  std::optional<onednn::PreparedPrimitive> onednn;
  std::optional<cpu::LayerNormAvx512> hand;
  std::string impl;
};

LayerNormPlan::LayerNormPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
LayerNormPlan::LayerNormPlan(LayerNormPlan&&) noexcept = default;
LayerNormPlan& LayerNormPlan::operator=(LayerNormPlan&&) noexcept = default;
LayerNormPlan::~LayerNormPlan() = default;

LayerNormPlan LayerNormPlan::create(const Engine& engine, const LayerNormDesc& d,
                                    ConstTensorView gamma, ConstTensorView beta,
                                    const LayerNormOptions& options) {
  check(d);
  const std::string key = to_string(d);
  const auto check_affine = [&](std::string_view name, const ConstTensorView& t, bool wanted) {
    if (!wanted) {
      if (!t.empty()) {
        throw InvalidArgument(fmt::format("layer_norm: {} given but affine={} takes none [{}]",
                                          name, kAffineNames[static_cast<std::size_t>(d.affine)],
                                          key));
      }
      return;
    }
    if (t.dtype() != DType::F32) {
      throw InvalidArgument(fmt::format("layer_norm: {} dtype={} is unsupported, expected f32 [{}]",
                                        name, to_string(t.dtype()), key));
    }
    if (!(t.shape() == Shape{d.c})) {
      throw InvalidArgument(fmt::format("layer_norm: {} shape {} must be [c={}] [{}]", name,
                                        t.shape().to_string(), d.c, key));
    }
  };
  check_affine("gamma", gamma, d.affine != LayerNormAffine::None);
  check_affine("beta", beta, d.affine == LayerNormAffine::ScaleShift);

  const KernelBackend backend = select_backend(
      "layer_norm", key, options.backend, layer_norm_auto_backend(d),
      {.hand_name = cpu::LayerNormAvx512::kName, .hand_why_not = cpu::LayerNormAvx512::why_not(d)});
  auto state = std::make_unique<State>(State{.desc = d, .engine = engine});
  if (backend == KernelBackend::Hand) {
    state->hand = cpu::LayerNormAvx512::create(engine, d, gamma, beta);
    state->impl = std::string(cpu::LayerNormAvx512::kName);
  } else {
    state->onednn = create_onednn(engine, d, gamma, beta, key);
    state->impl = std::string(state->onednn->impl_name());
  }
  state->backend = backend;
  return LayerNormPlan(std::move(state));
}

void LayerNormPlan::run(ConstTensorView src, TensorView dst) const {
  [[maybe_unused]] const LayerNormDesc& d = state_->desc;
  HWNAS_ASSERT(src.is_contiguous() && src.numel() == d.rows * d.c &&
               src.shape()[src.rank() - 1] == d.c && src.dtype() == DType::F32);
  HWNAS_ASSERT(dst.is_contiguous() && dst.numel() == d.rows * d.c &&
               dst.shape()[dst.rank() - 1] == d.c && dst.dtype() == DType::F32);
  State& s = *state_;
  if (s.hand) {
    s.hand->run(src.f32(), dst.f32());
    return;
  }
  s.onednn->run({src.data()}, dst.data());
}

const LayerNormDesc& LayerNormPlan::desc() const { return state_->desc; }
KernelBackend LayerNormPlan::backend() const { return state_->backend; }
std::string_view LayerNormPlan::impl_name() const { return state_->impl; }

}  // namespace hwnas
