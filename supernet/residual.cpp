#include "supernet/residual.hpp"

#include <fmt/format.h>

#include <vector>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"
#include "kernels/params.hpp"

namespace hwnas {

std::string to_string(const ResidualDesc& d) {
  return make_key("residual", {{"n", std::to_string(d.n)},
                               {"h", std::to_string(d.h)},
                               {"w", std::to_string(d.w)},
                               {"c", std::to_string(d.c)},
                               {"add", d.add_input ? "1" : "0"},
                               {"res_scale", d.res_scale ? "1" : "0"},
                               {"layer_scale", d.layer_scale ? "1" : "0"}});
}

OpCost cost(const ResidualDesc& d) {
  const double elements = static_cast<double>(d.n * d.h * d.w * d.c);
  const int scales = static_cast<int>(d.res_scale) + static_cast<int>(d.layer_scale);
  const std::int64_t params = scales * d.c;
  return {.flops = elements * (static_cast<int>(d.add_input) + scales),
          .bytes = 4.0 * (elements * (d.add_input ? 3 : 2) + static_cast<double>(params)),
          .params = params};
}

struct ResidualPlan::State {
  ResidualDesc desc;
  int threads = 1;
  std::vector<float> rs, ls;  // [c], or empty
};

ResidualPlan::ResidualPlan(std::unique_ptr<State> state) : state_(std::move(state)) {}
ResidualPlan::ResidualPlan(ResidualPlan&&) noexcept = default;
ResidualPlan& ResidualPlan::operator=(ResidualPlan&&) noexcept = default;
ResidualPlan::~ResidualPlan() = default;

ResidualPlan ResidualPlan::create(const Engine& engine, const ResidualDesc& d,
                                  ConstTensorView res_scale, ConstTensorView layer_scale) {
  const std::string key = to_string(d);
  for (const auto& [field, v] : {std::pair{"n", d.n}, {"h", d.h}, {"w", d.w}, {"c", d.c}}) {
    if (v < 1)
      throw InvalidArgument(fmt::format("residual: {}={} must be >= 1 [{}]", field, v, key));
  }
  if (d.res_scale && !d.add_input) {
    throw InvalidArgument(fmt::format("residual: res_scale needs add=1 (it scales x) [{}]", key));
  }
  if (!d.add_input && !d.layer_scale) {
    throw InvalidArgument(
        fmt::format("residual: add=0 without layer_scale is the identity, not a pass [{}]", key));
  }
  const auto copy = [&](std::string_view name, const ConstTensorView& t, bool wanted) {
    std::vector<float> out;
    if (!wanted) {
      if (!t.empty())
        throw InvalidArgument(fmt::format("residual: {} given but unused [{}]", name, key));
      return out;
    }
    if (t.empty() || t.dtype() != DType::F32 || !(t.shape() == Shape{d.c})) {
      throw InvalidArgument(fmt::format("residual: {} shape {} must be f32 [c={}] [{}]", name,
                                        t.shape().to_string(), d.c, key));
    }
    out.resize(static_cast<std::size_t>(d.c));
    for (std::int64_t i = 0; i < d.c; ++i)
      out[static_cast<std::size_t>(i)] = t.f32()[i * t.strides()[0]];
    return out;
  };
  auto s = std::make_unique<State>();
  s->desc = d;
  s->threads = engine.threads();
  s->rs = copy("res_scale", res_scale, d.res_scale);
  s->ls = copy("layer_scale", layer_scale, d.layer_scale);
  return ResidualPlan(std::move(s));
}

void ResidualPlan::run(ConstTensorView f, ConstTensorView x, TensorView dst) const {
  const State& s = *state_;
  const ResidualDesc& d = s.desc;
  const std::int64_t rows = d.n * d.h * d.w, c = d.c;
  HWNAS_ASSERT(f.is_contiguous() && f.numel() == rows * c);
  HWNAS_ASSERT(dst.is_contiguous() && dst.numel() == rows * c);
  HWNAS_ASSERT(!d.add_input || (x.is_contiguous() && x.numel() == rows * c));
  const float* fp = f.f32();
  const float* xp = d.add_input ? x.f32() : nullptr;
  float* out = dst.f32();
  const float* rs = s.rs.empty() ? nullptr : s.rs.data();
  const float* ls = s.ls.empty() ? nullptr : s.ls.data();
  // No restrict: dst may be f or x; every element is read at the index it is written.
#pragma omp parallel for num_threads(s.threads) schedule(static)
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* fr = fp + r * c;
    float* o = out + r * c;
    if (xp == nullptr) {
#pragma omp simd
      for (std::int64_t i = 0; i < c; ++i) o[i] = ls[i] * fr[i];
      continue;
    }
    const float* xr = xp + r * c;
    if (rs != nullptr && ls != nullptr) {
#pragma omp simd
      for (std::int64_t i = 0; i < c; ++i) o[i] = rs[i] * xr[i] + ls[i] * fr[i];
    } else if (rs != nullptr) {
#pragma omp simd
      for (std::int64_t i = 0; i < c; ++i) o[i] = rs[i] * xr[i] + fr[i];
    } else if (ls != nullptr) {
#pragma omp simd
      for (std::int64_t i = 0; i < c; ++i) o[i] = xr[i] + ls[i] * fr[i];
    } else {
#pragma omp simd
      for (std::int64_t i = 0; i < c; ++i) o[i] = xr[i] + fr[i];
    }
  }
}

}  // namespace hwnas
