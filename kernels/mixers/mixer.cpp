#include "kernels/mixers/mixer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"

namespace hwnas {

std::vector<ParamSpec> mixer_shape_params() {
  return {
      {.name = "n", .default_value = "1", .min = 1, .max = 1 << 16, .help = "batch"},
      {.name = "h", .default_value = "56", .min = 1, .max = 1 << 14, .help = "height (tokens)"},
      {.name = "w", .default_value = "56", .min = 1, .max = 1 << 14, .help = "width (tokens)"},
      {.name = "c", .default_value = "96", .min = 1, .max = 1 << 16, .help = "channels"},
  };
}

MixerShape mixer_shape_from(const Params& params) {
  return {.n = params.integer("n"),
          .h = params.integer("h"),
          .w = params.integer("w"),
          .c = params.integer("c")};
}

void check_positive(std::string_view op, std::string_view name, std::int64_t value,
                    std::string_view key) {
  if (value < 1)
    throw InvalidArgument(fmt::format("{}: {}={} must be >= 1 [{}]", op, name, value, key));
}

void check_heads_divide_channels(std::string_view op, std::int64_t heads, std::int64_t c,
                                 std::string_view key) {
  if (c % heads != 0)
    throw InvalidArgument(fmt::format("{}: heads={} must divide c={} [{}]", op, heads, c, key));
}

void MixerWeights::set(std::string name, ConstTensorView view) { views_[std::move(name)] = view; }

bool MixerWeights::has(std::string_view name) const { return views_.find(name) != views_.end(); }

ConstTensorView MixerWeights::get(std::string_view name, std::string_view key) const {
  const auto it = views_.find(name);
  if (it == views_.end()) {
    throw InvalidArgument(fmt::format("{}: weight '{}' is missing", key, name));
  }
  return it->second;
}

void check_weights(std::string_view key, std::span<const WeightSpec> specs,
                   const MixerWeights& weights) {
  for (const WeightSpec& spec : specs) {
    const ConstTensorView view = weights.get(spec.name, key);
    if (view.dtype() != DType::F32) {
      throw InvalidArgument(fmt::format("{}: weight '{}' is {}, expected f32", key, spec.name,
                                        to_string(view.dtype())));
    }
    if (!(view.shape() == spec.shape)) {
      throw InvalidArgument(fmt::format("{}: weight '{}' has shape {}, expected {}", key, spec.name,
                                        view.shape().to_string(), spec.shape.to_string()));
    }
    if (view.numel() > 0 && view.empty()) {
      throw InvalidArgument(fmt::format("{}: weight '{}' has no data", key, spec.name));
    }
  }
  for (const auto& [name, view] : weights.all()) {
    bool listed = false;
    for (const WeightSpec& spec : specs) listed = listed || spec.name == name;
    if (!listed) {
      throw InvalidArgument(
          fmt::format("{}: unexpected weight '{}' (this mixer has no such tensor)", key, name));
    }
  }
}

void fill_random_weight(WeightKind kind, TensorView dst, std::mt19937_64& rng) {
  const Shape& shape = dst.shape();
  float lo = -1.f, hi = 1.f;
  switch (kind) {
    case WeightKind::Matrix: {
      const std::int64_t fan_in = shape.rank() > 0 && shape[0] > 0 ? shape.numel() / shape[0] : 1;
      hi = static_cast<float>(1.0 /
                              std::sqrt(static_cast<double>(std::max<std::int64_t>(fan_in, 1))));
      lo = -hi;
      break;
    }
    case WeightKind::Bias:
    case WeightKind::NormShift:
      lo = -0.5f, hi = 0.5f;
      break;
    case WeightKind::NormScale:
      lo = 0.5f, hi = 1.5f;
      break;
    case WeightKind::Table:
      break;
  }
  std::uniform_real_distribution<float> dist(lo, hi);
  float* p = dst.f32();
  for (std::int64_t i = 0; i < dst.numel(); ++i) p[i] = dist(rng);
}

RandomWeights make_random_weights(std::span<const WeightSpec> specs, std::mt19937_64& rng) {
  RandomWeights out;
  out.tensors.reserve(specs.size());
  for (const WeightSpec& spec : specs) {
    Tensor t = Tensor::empty(spec.shape);
    fill_random_weight(spec.kind, t.view(), rng);
    out.views.set(spec.name, t.cview());
    out.tensors.push_back(std::move(t));
  }
  return out;
}

std::string_view to_string(SliceRule rule) {
  switch (rule) {
    case SliceRule::Leading:
      return "leading";
    case SliceRule::Centre:
      return "centre";
    case SliceRule::LeadingGrid:
      return "leading_grid";
    case SliceRule::CentreGrid:
      return "centre_grid";
  }
  return "?";
}

namespace {

bool is_grid(SliceRule rule) {
  return rule == SliceRule::LeadingGrid || rule == SliceRule::CentreGrid;
}

// The slicing entry of `dim`, created with the defaults when the spec had none.
DimSlicing& slicing_entry(WeightSpec& spec, int dim) {
  if (spec.slicing.empty()) {
    std::vector<DimSlicing> all;
    for (int d = 0; d < spec.shape.rank(); ++d) all.push_back(dim_slicing(spec, d));
    spec.slicing = std::move(all);
  }
  HWNAS_ASSERT(dim >= 0 && dim < static_cast<int>(spec.slicing.size()));
  return spec.slicing[static_cast<std::size_t>(dim)];
}

}  // namespace

DimSlicing dim_slicing(const WeightSpec& spec, int dim) {
  DimSlicing out;
  if (!spec.slicing.empty()) {
    out = spec.slicing.at(static_cast<std::size_t>(dim));
  } else if (spec.kind == WeightKind::Matrix && spec.shape.rank() == 4 && dim >= 2) {
    out.rule = SliceRule::Centre;
  }
  if (out.segments.empty()) out.segments = {spec.shape[dim]};
  return out;
}

void check_slicing(const WeightSpec& spec, std::string_view where) {
  const int rank = spec.shape.rank();
  const auto fail = [&](int dim, const std::string& why) {
    throw InvalidArgument(fmt::format("{}: weight '{}' {}: dim {} {}", where, spec.name,
                                      spec.shape.to_string(), dim, why));
  };
  if (!spec.slicing.empty() && static_cast<int>(spec.slicing.size()) != rank) {
    throw InvalidArgument(
        fmt::format("{}: weight '{}' {}: slicing lists {} dimensions, the shape "
                    "has {}",
                    where, spec.name, spec.shape.to_string(), spec.slicing.size(), rank));
  }
  for (int dim = 0; dim < rank; ++dim) {
    const DimSlicing s = dim_slicing(spec, dim);
    std::int64_t sum = 0;
    for (const std::int64_t size : s.segments) {
      if (size < 0) fail(dim, fmt::format("has a segment of size {} (must be >= 0)", size));
      sum += size;
    }
    if (sum != spec.shape[dim]) {
      fail(dim, fmt::format("has segments {{{}}} summing to {}, not its extent {}",
                            fmt::join(s.segments, ","), sum, spec.shape[dim]));
    }
    if (is_grid(s.rule)) {
      if (s.segments.size() != 1) fail(dim, "is a grid and must be one segment");
      if (s.grid_cols < 1 || spec.shape[dim] % s.grid_cols != 0) {
        fail(dim, fmt::format("is a {} with grid_cols={}, which must be >= 1 and divide {}",
                              to_string(s.rule), s.grid_cols, spec.shape[dim]));
      }
    }
  }
}

WeightSpec with_segments(WeightSpec spec, int dim, std::vector<std::int64_t> sizes) {
  slicing_entry(spec, dim).segments = std::move(sizes);
  return spec;
}

WeightSpec with_rule(WeightSpec spec, int dim, SliceRule rule) {
  slicing_entry(spec, dim).rule = rule;
  return spec;
}

WeightSpec with_grid(WeightSpec spec, int dim, SliceRule rule, [[maybe_unused]] std::int64_t rows,
                     std::int64_t cols) {
  HWNAS_ASSERT(is_grid(rule) && rows * cols == spec.shape[dim]);
  DimSlicing& s = slicing_entry(spec, dim);
  s.rule = rule;
  s.grid_cols = cols;
  return spec;
}

}  // namespace hwnas
