#include "kernels/ops/group_norm.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"

namespace hwnas {

namespace {

constexpr std::int64_t kMaxExtent = std::int64_t{1} << 31;
constexpr std::string_view kAffineNames[] = {"none", "scale", "scale_shift"};

// Pixel chunks per image for the partial sums: fixed (not the thread count), so the summation
// order and hence the result do not depend on how many threads run it.
constexpr std::int64_t kChunks = 64;

}  // namespace

std::span<const ParamSpec> group_norm_params() {
  static const ParamSpec kSpecs[] = {
      {.name = "n", .default_value = "1", .min = 1, .max = kMaxExtent, .help = "batch"},
      {.name = "h", .default_value = "56", .min = 1, .max = kMaxExtent, .help = "height"},
      {.name = "w", .default_value = "56", .min = 1, .max = kMaxExtent, .help = "width"},
      {.name = "c", .default_value = "64", .min = 1, .max = kMaxExtent, .help = "channels"},
      {.name = "groups",
       .default_value = "1",
       .min = 1,
       .max = kMaxExtent,
       .help = "channel groups (divides c); 1 = PoolFormer's GroupNorm(1, c)"},
      {.name = "eps",
       .default_value = "1e-05",
       .min = 0,
       .max = 1,
       .help = "added to the variance (> 0)",
       .kind = ParamSpec::Kind::Real},
      {.name = "affine",
       .default_value = "scale_shift",
       .choices = {std::begin(kAffineNames), std::end(kAffineNames)},
       .help = "gamma and beta, gamma only, or neither"},
  };
  return kSpecs;
}

std::string to_string(const GroupNormDesc& d) {
  return make_key("group_norm",
                  {{"n", std::to_string(d.n)},
                   {"h", std::to_string(d.h)},
                   {"w", std::to_string(d.w)},
                   {"c", std::to_string(d.c)},
                   {"groups", std::to_string(d.groups)},
                   {"eps", fmt::format("{}", d.eps)},
                   {"affine", std::string(kAffineNames[static_cast<std::size_t>(d.affine)])}});
}

GroupNormDesc group_norm_desc_from(const Params& p) {
  GroupNormDesc d{.n = p.integer("n"),
                  .h = p.integer("h"),
                  .w = p.integer("w"),
                  .c = p.integer("c"),
                  .groups = p.integer("groups"),
                  .eps = static_cast<float>(p.real("eps"))};
  for (std::size_t i = 0; i < std::size(kAffineNames); ++i) {
    if (kAffineNames[i] == p.word("affine")) d.affine = static_cast<LayerNormAffine>(i);
  }
  return d;
}

GroupNormDesc parse_group_norm_desc(std::string_view key) {
  const GroupNormDesc d =
      group_norm_desc_from(Params::from_key("group_norm", group_norm_params(), key));
  check(d);  // groups dividing c spans two fields
  return d;
}

void check(const GroupNormDesc& d) {
  for (const auto& [field, v] :
       {std::pair{"n", d.n}, {"h", d.h}, {"w", d.w}, {"c", d.c}, {"groups", d.groups}}) {
    if (v < 1) {
      throw InvalidArgument(
          fmt::format("group_norm: {}={} must be >= 1 [{}]", field, v, to_string(d)));
    }
  }
  if (d.c % d.groups != 0) {
    throw InvalidArgument(
        fmt::format("group_norm: groups={} must divide c={} [{}]", d.groups, d.c, to_string(d)));
  }
  if (!(d.eps > 0) || !std::isfinite(d.eps)) {
    throw InvalidArgument(
        fmt::format("group_norm: eps={} must be finite and > 0 [{}]", d.eps, to_string(d)));
  }
}

OpCost cost(const GroupNormDesc& d) {
  const double elements = static_cast<double>(d.n * d.h * d.w * d.c);
  std::int64_t params = 0;
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

struct GroupNormPlan::State {
  GroupNormDesc desc;
  int threads = 1;
  std::int64_t chunks = 1;
  std::vector<float> gamma, beta;    // [c]; ones / zeros when the affine omits them
  std::vector<double> partial;       // [n, chunks, groups, 2]: sum and sum of squares
  std::vector<float> centre, scale;  // [n, c]: the group's mean and rstd * gamma per channel
};

GroupNormPlan::GroupNormPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
GroupNormPlan::GroupNormPlan(GroupNormPlan&&) noexcept = default;
GroupNormPlan& GroupNormPlan::operator=(GroupNormPlan&&) noexcept = default;
GroupNormPlan::~GroupNormPlan() = default;

GroupNormPlan GroupNormPlan::create(const Engine& engine, const GroupNormDesc& d,
                                    ConstTensorView gamma, ConstTensorView beta) {
  check(d);
  const std::string key = to_string(d);
  const auto copy_affine = [&](std::string_view name, const ConstTensorView& t, bool wanted,
                               float fill) {
    std::vector<float> out(static_cast<std::size_t>(d.c), fill);
    if (!wanted) {
      if (!t.empty()) {
        throw InvalidArgument(fmt::format("group_norm: {} given but affine={} takes none [{}]",
                                          name, kAffineNames[static_cast<std::size_t>(d.affine)],
                                          key));
      }
      return out;
    }
    if (!t.empty() && t.dtype() != DType::F32) {
      throw InvalidArgument(fmt::format("group_norm: {} dtype={} is unsupported, expected f32 [{}]",
                                        name, to_string(t.dtype()), key));
    }
    if (t.empty() || !(t.shape() == Shape{d.c})) {
      throw InvalidArgument(fmt::format("group_norm: {} shape {} must be [c={}] [{}]", name,
                                        t.shape().to_string(), d.c, key));
    }
    for (std::int64_t i = 0; i < d.c; ++i) {
      out[static_cast<std::size_t>(i)] = t.f32()[i * t.strides()[0]];
    }
    return out;
  };
  auto s = std::make_unique<State>();
  s->desc = d;
  s->threads = engine.threads();
  s->gamma = copy_affine("gamma", gamma, d.affine != LayerNormAffine::None, 1.f);
  s->beta = copy_affine("beta", beta, d.affine == LayerNormAffine::ScaleShift, 0.f);
  s->chunks = std::min(d.h * d.w, kChunks);
  s->partial.resize(static_cast<std::size_t>(2 * d.n * s->chunks * d.groups));
  s->centre.resize(static_cast<std::size_t>(d.n * d.c));
  s->scale.resize(static_cast<std::size_t>(d.n * d.c));
  return GroupNormPlan(std::move(s));
}

namespace {

// One pass over each (image, chunk, group): the sum and the sum of squares of x - shift in double,
// into partial[job][g] = {sum, sumsq}; chunk k covers pixels [k*p/chunks, (k+1)*p/chunks) of its
// image. shift is the group's first element, so E[(x-shift)^2] - E[x-shift]^2 does not cancel
// unless |mean - shift| / std exceeds ~1e7 (double's 53 bits against f32 inputs' 24).
void chunk_sums(const float* x, const GroupNormDesc& d, std::int64_t chunks, int threads,
                double* partial) {
  const std::int64_t pixels = d.h * d.w, cg = d.c / d.groups;
#pragma omp parallel for num_threads(threads) schedule(static)
  for (std::int64_t job = 0; job < d.n * chunks; ++job) {
    const std::int64_t b = job / chunks, k = job % chunks;
    const std::int64_t p0 = k * pixels / chunks, p1 = (k + 1) * pixels / chunks;
    double* acc = partial + 2 * job * d.groups;
    for (std::int64_t g = 0; g < d.groups; ++g) {
      const std::int64_t base = g * cg;
      const double shift = x[b * pixels * d.c + base];
      double sum = 0, sumsq = 0;
      for (std::int64_t p = p0; p < p1; ++p) {
        const float* row = x + (b * pixels + p) * d.c + base;
#pragma omp simd reduction(+ : sum, sumsq)
        for (std::int64_t j = 0; j < cg; ++j) {
          const double v = static_cast<double>(row[j]) - shift;
          sum += v;
          sumsq += v * v;
        }
      }
      acc[2 * g] = sum;
      acc[2 * g + 1] = sumsq;
    }
  }
}

}  // namespace

void GroupNormPlan::run(ConstTensorView src, TensorView dst) const {
  State& s = *state_;
  const GroupNormDesc& d = s.desc;
  [[maybe_unused]] const std::int64_t elements = d.n * d.h * d.w * d.c;
  HWNAS_ASSERT(src.dtype() == DType::F32 && src.is_contiguous() && src.numel() == elements &&
               src.shape()[src.rank() - 1] == d.c);
  HWNAS_ASSERT(dst.dtype() == DType::F32 && dst.is_contiguous() && dst.numel() == elements &&
               dst.shape()[dst.rank() - 1] == d.c);
  const float* x = src.f32();
  float* y = dst.f32();
  const std::int64_t pixels = d.h * d.w, cg = d.c / d.groups, chunks = s.chunks;
  const double count = static_cast<double>(pixels * cg);
  chunk_sums(x, d, chunks, s.threads, s.partial.data());
  for (std::int64_t b = 0; b < d.n; ++b) {
    for (std::int64_t g = 0; g < d.groups; ++g) {
      double sum = 0, sumsq = 0;
      for (std::int64_t k = 0; k < chunks; ++k) {
        const double* acc = s.partial.data() + 2 * ((b * chunks + k) * d.groups + g);
        sum += acc[0];
        sumsq += acc[1];
      }
      const double shifted_mean = sum / count;
      const double var = std::max(sumsq / count - shifted_mean * shifted_mean, 0.0);
      const double rstd = 1.0 / std::sqrt(var + static_cast<double>(d.eps));
      const double mean = static_cast<double>(x[b * pixels * d.c + g * cg]) + shifted_mean;
      for (std::int64_t ch = g * cg; ch < (g + 1) * cg; ++ch) {
        s.centre[static_cast<std::size_t>(b * d.c + ch)] = static_cast<float>(mean);
        s.scale[static_cast<std::size_t>(b * d.c + ch)] =
            static_cast<float>(rstd * s.gamma[static_cast<std::size_t>(ch)]);
      }
    }
  }
  const float* centre = s.centre.data();
  const float* scale = s.scale.data();
  const float* beta = s.beta.data();
  const std::int64_t c = d.c;
#pragma omp parallel for num_threads(s.threads) schedule(static)
  for (std::int64_t row = 0; row < d.n * pixels; ++row) {
    const std::int64_t b = row / pixels;
    const float* xr = x + row * c;
    float* yr = y + row * c;
    const float* m = centre + b * c;
    const float* a = scale + b * c;
#pragma omp simd
    for (std::int64_t ch = 0; ch < c; ++ch) yr[ch] = (xr[ch] - m[ch]) * a[ch] + beta[ch];
  }
}

const GroupNormDesc& GroupNormPlan::desc() const { return state_->desc; }
std::string_view GroupNormPlan::impl_name() const { return "hand:group_norm"; }

}  // namespace hwnas
