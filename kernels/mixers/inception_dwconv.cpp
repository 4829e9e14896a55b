#include "kernels/mixers/inception_dwconv.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>

#include "kernels/assert.hpp"
#include "kernels/cpu/dwconv_nhwc_avx512.hpp"
#include "kernels/error.hpp"
#include "kernels/mixers/mixer_entries.hpp"
#include "kernels/ops/conv2d.hpp"
#include "kernels/reference/inception_dwconv_ref.hpp"

namespace hwnas {
namespace {

constexpr std::string_view kName = "inception_dwconv";
constexpr std::int64_t kMaxKernel = 31;

// Test tolerance, relative to max(sum |w*x| + |bias|, 1) (identity channels are exact): a dot
// product of at most max(ks^2, kb) + 1 terms, 2*gamma(k + 1): 2*gamma(13) = 1.5e-6 for the
// defaults (3x3 and 11-wide bands), 2*gamma(962) = 1.15e-4 at a 31x31 square kernel, the bound
// stated here. A wrong tap, a swapped branch or a missing bias moves an output by ~magnitude / k
// >= 1e-3 of it; the mixer's own tests use each shape's bound.
constexpr double kTolerance = 1.2e-4;

struct BranchSpec {
  const char* name;  // "dwconv_hw"
  std::int64_t kh, kw;
};

std::array<BranchSpec, 3> branches_of(const InceptionDwconvDesc& d) {
  return {BranchSpec{"dwconv_hw", d.square_kernel, d.square_kernel},
          BranchSpec{"dwconv_w", 1, d.band_kernel}, BranchSpec{"dwconv_h", d.band_kernel, 1}};
}

}  // namespace

std::span<const ParamSpec> inception_dwconv_params() {
  static const std::vector<ParamSpec> kSpecs = [] {
    std::vector<ParamSpec> s = mixer_shape_params();
    s.push_back({.name = "square_kernel",
                 .default_value = "3",
                 .min = 1,
                 .max = kMaxKernel,
                 .help = "k x k branch (odd; InceptionNeXt: 3)"});
    s.push_back({.name = "band_kernel",
                 .default_value = "11",
                 .min = 1,
                 .max = kMaxKernel,
                 .help = "1 x k and k x 1 branches (odd; InceptionNeXt: 11)"});
    s.push_back({.name = "branch_ratio",
                 .default_value = "0.125",
                 .min = 0,
                 .max = 1,
                 .help = "channels per conv branch = int(c * branch_ratio) (InceptionNeXt: 1/8)",
                 .kind = ParamSpec::Kind::Real});
    return s;
  }();
  return kSpecs;
}

std::string to_string(const InceptionDwconvDesc& d) {
  return make_key(kName, {{"n", std::to_string(d.n)},
                          {"h", std::to_string(d.h)},
                          {"w", std::to_string(d.w)},
                          {"c", std::to_string(d.c)},
                          {"square_kernel", std::to_string(d.square_kernel)},
                          {"band_kernel", std::to_string(d.band_kernel)},
                          {"branch_ratio", fmt::format("{}", d.branch_ratio)}});
}

InceptionDwconvDesc inception_dwconv_desc_from(const Params& p) {
  const MixerShape s = mixer_shape_from(p);
  const InceptionDwconvDesc d{.n = s.n,
                              .h = s.h,
                              .w = s.w,
                              .c = s.c,
                              .square_kernel = p.integer("square_kernel"),
                              .band_kernel = p.integer("band_kernel"),
                              .branch_ratio = p.real("branch_ratio")};
  check(d);
  return d;
}

std::int64_t inception_branch_channels(const InceptionDwconvDesc& d) {
  return static_cast<std::int64_t>(static_cast<double>(d.c) * d.branch_ratio);
}

void check(const InceptionDwconvDesc& d) {
  for (const auto& [name, v] : {std::pair{"n", d.n},
                                {"h", d.h},
                                {"w", d.w},
                                {"c", d.c},
                                {"square_kernel", d.square_kernel},
                                {"band_kernel", d.band_kernel}}) {
    if (v < 1) {
      throw InvalidArgument(
          fmt::format("{}: {}={} must be >= 1 [{}]", kName, name, v, to_string(d)));
    }
  }
  for (const auto& [name, k] :
       {std::pair{"square_kernel", d.square_kernel}, {"band_kernel", d.band_kernel}}) {
    if (k % 2 == 0 || k > kMaxKernel) {
      throw InvalidArgument(fmt::format(
          "{}: {}={} must be odd and <= {} (padding k // 2 keeps the size only for odd kernels) "
          "[{}]",
          kName, name, k, kMaxKernel, to_string(d)));
    }
  }
  const std::int64_t gc = inception_branch_channels(d);
  if (!(d.branch_ratio > 0) || gc < 1) {
    throw InvalidArgument(fmt::format(
        "{}: branch_ratio={} gives int(c * branch_ratio) = int({} * {}) = {} channels per conv "
        "branch; needs >= 1 [{}]",
        kName, d.branch_ratio, d.c, d.branch_ratio, gc, to_string(d)));
  }
  if (d.c - 3 * gc < 0) {
    throw InvalidArgument(fmt::format(
        "{}: branch_ratio={} gives 3 branches of {} channels, more than c={} (identity part "
        "c - 3*gc = {} < 0; branch_ratio must be <= 1/3) [{}]",
        kName, d.branch_ratio, gc, d.c, d.c - 3 * gc, to_string(d)));
  }
}

OpCost cost(const InceptionDwconvDesc& d) {
  const double pixels = static_cast<double>(d.n * d.h * d.w);
  const std::int64_t gc = inception_branch_channels(d);
  const std::int64_t taps = d.square_kernel * d.square_kernel + 2 * d.band_kernel;
  const std::int64_t params = gc * (taps + 3);
  return {.flops = 2 * pixels * static_cast<double>(gc * taps),
          .bytes = 4.0 * (2 * pixels * static_cast<double>(d.c) + static_cast<double>(params)),
          .params = params};
}

std::vector<WeightSpec> weight_specs(const InceptionDwconvDesc& d) {
  const std::int64_t gc = inception_branch_channels(d);
  std::vector<WeightSpec> specs;
  for (const BranchSpec& b : branches_of(d)) {
    specs.push_back({fmt::format("{}.weight", b.name), {gc, 1, b.kh, b.kw}, WeightKind::Matrix});
    specs.push_back({fmt::format("{}.bias", b.name), {gc}, WeightKind::Bias});
  }
  return specs;
}

namespace {

// One conv branch on channels [offset, offset + gc): the hand kernel in place on the slice, or a
// gather / Conv2dPlan / scatter where it cannot run.
struct Branch {
  std::int64_t offset = 0;
  std::optional<cpu::DwconvNhwcAvx512> hand;
  std::optional<Conv2dPlan> conv;
  Tensor in, out;  // [n, h, w, gc], only for `conv`
};

}  // namespace

struct InceptionDwconvPlan::State {
  InceptionDwconvDesc desc;
  int threads = 1;
  std::vector<Branch> branches;
  std::string impl;
};

InceptionDwconvPlan::InceptionDwconvPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
InceptionDwconvPlan::InceptionDwconvPlan(InceptionDwconvPlan&&) noexcept = default;
InceptionDwconvPlan& InceptionDwconvPlan::operator=(InceptionDwconvPlan&&) noexcept = default;
InceptionDwconvPlan::~InceptionDwconvPlan() = default;

InceptionDwconvPlan InceptionDwconvPlan::create(const Engine& engine, const InceptionDwconvDesc& d,
                                                const MixerWeights& weights) {
  check(d);
  const std::string key = to_string(d);
  check_weights(key, weight_specs(d), weights);
  const std::int64_t gc = inception_branch_channels(d);
  auto s = std::make_unique<State>();
  s->desc = d;
  s->threads = engine.threads();
  std::int64_t offset = d.c - 3 * gc;
  for (const BranchSpec& b : branches_of(d)) {
    const Conv2dDesc conv{.n = d.n,
                          .h = d.h,
                          .w = d.w,
                          .ic = gc,
                          .oc = gc,
                          .kh = b.kh,
                          .kw = b.kw,
                          .pad_h = b.kh / 2,
                          .pad_w = b.kw / 2,
                          .groups = gc};
    const ConstTensorView weight = weights.get(fmt::format("{}.weight", b.name), key);
    const ConstTensorView bias = weights.get(fmt::format("{}.bias", b.name), key);
    Branch branch{.offset = offset};
    if (cpu::DwconvNhwcAvx512::why_not(conv).empty()) {
      branch.hand =
          cpu::DwconvNhwcAvx512::create(engine, conv, weight, bias, {.src = d.c, .dst = d.c});
    } else {
      branch.conv = Conv2dPlan::create(engine, conv, weight, bias);
      branch.in = Tensor::empty({d.n, d.h, d.w, gc});
      branch.out = Tensor::empty({d.n, d.h, d.w, gc});
    }
    s->branches.push_back(std::move(branch));
    offset += gc;
  }
  const Branch& first = s->branches.front();
  s->impl = first.hand ? std::string(cpu::DwconvNhwcAvx512::kName) + "(strided)"
                       : fmt::format("{}+copy", first.conv->impl_name());
  return InceptionDwconvPlan(std::move(s));
}

void InceptionDwconvPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const InceptionDwconvDesc& d = s.desc;
  HWNAS_ASSERT(src.is_contiguous() && src.shape() == Shape({d.n, d.h, d.w, d.c}));
  HWNAS_ASSERT(dst.is_contiguous() && dst.shape() == Shape({d.n, d.h, d.w, d.c}));
  const std::int64_t pixels = d.n * d.h * d.w, c = d.c, gc = inception_branch_channels(d);
  const std::int64_t identity = c - 3 * gc;
  const float* in = src.f32();
  float* out = dst.f32();
  if (identity > 0) {
#pragma omp parallel for num_threads(s.threads) schedule(static)
    for (std::int64_t p = 0; p < pixels; ++p) {
      std::copy(in + p * c, in + p * c + identity, out + p * c);
    }
  }
  for (Branch& b : s.branches) {
    if (b.hand) {
      b.hand->run(in + b.offset, out + b.offset);
      continue;
    }
    float* slice = b.in.f32();
#pragma omp parallel for num_threads(s.threads) schedule(static)
    for (std::int64_t p = 0; p < pixels; ++p) {
      std::copy(in + p * c + b.offset, in + p * c + b.offset + gc, slice + p * gc);
    }
    b.conv->run(b.in.cview(), b.out.view());
    const float* result = b.out.f32();
#pragma omp parallel for num_threads(s.threads) schedule(static)
    for (std::int64_t p = 0; p < pixels; ++p) {
      std::copy(result + p * gc, result + (p + 1) * gc, out + p * c + b.offset);
    }
  }
}

std::string_view InceptionDwconvPlan::impl_name() const { return state_->impl; }

MixerEntry inception_dwconv_entry() {
  return make_mixer_entry<InceptionDwconvDesc, InceptionDwconvPlan>(
      std::string(kName),
      "InceptionNeXt: identity, k x k, 1 x k and k x 1 depthwise convs on channel slices",
      inception_dwconv_params(), inception_dwconv_desc_from, reference::inception_dwconv,
      kTolerance);
}

}  // namespace hwnas
