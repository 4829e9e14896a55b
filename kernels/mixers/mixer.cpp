#include "kernels/mixers/mixer.hpp"

#include <fmt/format.h>

#include <cmath>

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

RandomWeights make_random_weights(std::span<const WeightSpec> specs, std::mt19937_64& rng) {
  RandomWeights out;
  out.tensors.reserve(specs.size());
  for (const WeightSpec& spec : specs) {
    Tensor t = Tensor::empty(spec.shape);
    float lo = -1.f, hi = 1.f;
    switch (spec.kind) {
      case WeightKind::Matrix: {
        const std::int64_t fan_in =
            spec.shape.rank() > 0 && spec.shape[0] > 0 ? spec.shape.numel() / spec.shape[0] : 1;
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
    float* p = t.f32();
    for (std::int64_t i = 0; i < t.numel(); ++i) p[i] = dist(rng);
    out.views.set(spec.name, t.cview());
    out.tensors.push_back(std::move(t));
  }
  return out;
}

}  // namespace hwnas
