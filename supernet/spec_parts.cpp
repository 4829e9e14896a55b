#include "supernet/spec_parts.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"

namespace hwnas::detail {
namespace {

constexpr std::string_view kShapeParams[] = {"n", "h", "w", "c"};

std::string_view bool_text(bool value) { return value ? "true" : "false"; }

const ParamSpec* find_param(const MixerEntry& entry, std::string_view name) {
  for (const ParamSpec& spec : entry.params) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

// Params has validated the text, so reading it back cannot fail.
std::string canonical_text(const ParamSpec& spec, const Params& params) {
  if (spec.is_word()) return params.word(spec.name);
  switch (spec.kind) {
    case ParamSpec::Kind::Integer:
      return fmt::format("{}", params.integer(spec.name));
    case ParamSpec::Kind::Real:
      return format_real(params.real(spec.name));
    case ParamSpec::Kind::IntegerList:
      return fmt::format("{}",
                         fmt::join(params.integers(spec.name), std::string(1, kListSeparator)));
  }
  return {};
}

void check_conv_geometry(std::int64_t kernel, std::int64_t stride, std::int64_t pad,
                         const Where& where) {
  if (kernel < 1) where.at("kernel").fail(fmt::format("kernel={} must be >= 1", kernel));
  if (stride < 1) where.at("stride").fail(fmt::format("stride={} must be >= 1", stride));
  if (pad < 0) where.at("pad").fail(fmt::format("pad={} must be >= 0", pad));
}

// PyTorch's Conv2d output size, floor((h + 2p - k) / s) + 1.
// `context` completes the message (" at input resolution 32").
std::int64_t conv_output(std::int64_t size, std::int64_t kernel, std::int64_t stride,
                         std::int64_t pad, const Where& where, std::string_view context = {}) {
  const std::int64_t padded = size + 2 * pad;
  if (padded < kernel) {
    where.fail(fmt::format("kernel={} is larger than the padded map {}+2*{}={}{}", kernel, size,
                           pad, padded, context));
  }
  return (padded - kernel) / stride + 1;
}

}  // namespace

Where Where::at(std::string_view key) const {
  return {source, path.empty() ? std::string(key) : fmt::format("{}.{}", path, key)};
}

Where Where::at(std::size_t index) const { return {source, fmt::format("{}[{}]", path, index)}; }

std::string Where::prefix() const {
  if (source.empty()) return path;
  if (path.empty()) return std::string(source);
  return fmt::format("{}: {}", source, path);
}

void Where::fail(std::string_view message) const {
  const std::string where = prefix();
  throw InvalidArgument(where.empty() ? std::string(message)
                                      : fmt::format("{}: {}", where, message));
}

std::string json_quote(std::string_view text) {
  std::string out = "\"";
  for (const char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<unsigned>(ch));
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

std::string format_real(double value) { return fmt::format("{}", value); }

const MixerEntry& mixer_entry(std::string_view name, const Where& where) {
  std::vector<std::string_view> names;
  for (const MixerEntry& entry : mixer_registry()) {
    if (entry.name == name) return entry;
    names.push_back(entry.name);
  }
  where.fail(fmt::format("unknown mixer '{}'; mixers: {}", name, fmt::join(names, ", ")));
}

bool is_shape_param(std::string_view name) {
  return std::find(std::begin(kShapeParams), std::end(kShapeParams), name) !=
         std::end(kShapeParams);
}

std::string canonical_param_value(const MixerEntry& entry, std::string_view param,
                                  std::string_view text, const Where& where) {
  const ParamSpec* spec = find_param(entry, param);
  HWNAS_ASSERT(spec != nullptr);
  const std::string assignment[] = {fmt::format("{}={}", param, text)};
  return canonical_text(*spec, parse_mixer_params(entry, assignment, where));
}

// Params and the registry word their errors without the location, which only the caller knows:
// these two add it.
Params parse_mixer_params(const MixerEntry& entry, std::span<const std::string> assignments,
                          const Where& where) {
  try {
    return Params::parse(entry.name, entry.params, assignments);
  } catch (const InvalidArgument& e) {
    where.fail(e.what());
  }
}

void check_mixer(const MixerEntry& entry, const Params& params, const Where& where) {
  try {
    entry.check(params);
  } catch (const InvalidArgument& e) {
    where.fail(e.what());
  }
}

MixerSpec mixer_spec_from(const MixerEntry& entry, const Params& params) {
  MixerSpec spec{.name = entry.name, .params = {}};
  for (const ParamSpec& param : entry.params) {
    if (is_shape_param(param.name)) continue;
    spec.params.emplace_back(param.name, canonical_text(param, params));
  }
  return spec;
}

Params mixer_params(const MixerSpec& mixer, const MixerShape& shape, const Where& where) {
  const MixerEntry& entry = mixer_entry(mixer.name, where);
  std::vector<std::string> assignments = {
      fmt::format("n={}", shape.n), fmt::format("h={}", shape.h), fmt::format("w={}", shape.w),
      fmt::format("c={}", shape.c)};
  for (const auto& [name, value] : mixer.params) {
    if (is_shape_param(name)) {
      where.fail(fmt::format(
          "{}: parameter '{}' is set by the network (the stage's map and width), not by the arch",
          mixer.name, name));
    }
    assignments.push_back(fmt::format("{}={}", name, value));
  }
  return parse_mixer_params(entry, assignments, where);
}

std::string describe(const MixerSpec& mixer) {
  std::vector<std::string> parts;
  for (const auto& [name, value] : mixer.params) parts.push_back(fmt::format("{}={}", name, value));
  return fmt::format("{}:{}", mixer.name, fmt::join(parts, ","));
}

std::string norm_json(const NormSpec& norm) {
  return fmt::format(R"({{"norm":{},"eps":{},"bias":{}}})", json_quote(to_string(norm.kind)),
                     format_real(norm.eps), bool_text(norm.bias));
}

std::string stem_json(const StemSpec& stem, StemOut last_out) {
  std::vector<std::string> convs;
  for (std::size_t i = 0; i < stem.convs.size(); ++i) {
    const StemConv& conv = stem.convs[i];
    const bool write_out = last_out == StemOut::Required || i + 1 < stem.convs.size();
    std::string text = "{";
    if (write_out) text += fmt::format(R"("out":{},)", conv.out);
    text += fmt::format(R"("kernel":{},"stride":{},"pad":{},"bias":{})", conv.kernel, conv.stride,
                        conv.pad, bool_text(conv.bias));
    if (conv.bn) text += R"(,"norm":)" + norm_json({.kind = NormKind::BatchNorm});
    convs.push_back(text + "}");
  }
  std::string text = fmt::format(R"({{"convs":[{}],"act":{})", fmt::join(convs, ","),
                                 json_quote(to_string(stem.act)));
  if (stem.norm) text += R"(,"norm":)" + norm_json(*stem.norm);
  return text + "}";
}

std::string downsample_json(const DownsampleSpec& downsample) {
  if (downsample.kind == DownsampleKind::PatchMerging) return R"({"downsample":"patch_merging"})";
  if (downsample.kind == DownsampleKind::SePatchMerging) {
    return fmt::format(R"({{"downsample":"se_patch_merging","expand":{},"se_ratio":{}}})",
                       downsample.expand, format_real(downsample.se_ratio));
  }
  std::string text =
      fmt::format(R"({{"downsample":"conv","kernel":{},"stride":{},"pad":{},"bias":{})",
                  downsample.kernel, downsample.stride, downsample.pad, bool_text(downsample.bias));
  if (downsample.norm) text += R"(,"norm":)" + norm_json(*downsample.norm);
  return text +
         fmt::format(R"(,"norm_place":{}}})",
                     json_quote(downsample.norm_place == NormPlacement::Pre ? "pre" : "post"));
}

std::string head_json(const HeadSpec& head) {
  std::string text = "{";
  if (head.norm) text += R"("norm":)" + norm_json(*head.norm) + ",";
  text += fmt::format(
      R"("norm_place":{},"hidden":{},"hidden_act":{},)",
      json_quote(head.norm_place == HeadNormPlace::BeforePool ? "before_pool" : "after_pool"),
      head.hidden, json_quote(to_string(head.hidden_act)));
  if (head.hidden_norm) text += R"("hidden_norm":)" + norm_json(*head.hidden_norm) + ",";
  return text + fmt::format(R"("num_classes":{}}})", head.num_classes);
}

void check_norm(const NormSpec& norm, const Where& where) {
  if (!(norm.eps > 0) || !std::isfinite(norm.eps)) {
    where.at("eps").fail(fmt::format("eps={} must be a finite number > 0", norm.eps));
  }
}

void check_stem(const StemSpec& stem, const Where& where, StemOut last_out) {
  if (stem.convs.empty()) where.at("convs").fail("a stem needs at least one conv");
  for (std::size_t i = 0; i < stem.convs.size(); ++i) {
    const StemConv& conv = stem.convs[i];
    const Where at = where.at("convs").at(i);
    const bool from_width = last_out == StemOut::FromWidth && i + 1 == stem.convs.size();
    if (!from_width && conv.out < 1)
      at.at("out").fail(fmt::format("out={} must be >= 1", conv.out));
    check_conv_geometry(conv.kernel, conv.stride, conv.pad, at);
  }
  if (stem.norm) check_norm(*stem.norm, where.at("norm"));
}

void check_downsample(const DownsampleSpec& downsample, const Where& where) {
  if (downsample.kind == DownsampleKind::PatchMerging) return;
  if (downsample.kind == DownsampleKind::SePatchMerging) {
    if (downsample.expand < 1) {
      where.at("expand").fail(fmt::format("expand={} must be >= 1", downsample.expand));
    }
    if (!(downsample.se_ratio > 0 && downsample.se_ratio <= 1)) {
      where.at("se_ratio")
          .fail(fmt::format("se_ratio={} must be in (0, 1]", format_real(downsample.se_ratio)));
    }
    return;
  }
  check_conv_geometry(downsample.kernel, downsample.stride, downsample.pad, where);
  if (downsample.norm) check_norm(*downsample.norm, where.at("norm"));
}

void check_head(const HeadSpec& head, const Where& where) {
  if (head.norm) check_norm(*head.norm, where.at("norm"));
  if (head.hidden < 0) {
    where.at("hidden").fail(
        fmt::format("hidden={} must be >= 0 (0: no hidden layer)", head.hidden));
  }
  if (head.hidden_norm) {
    if (head.hidden == 0) where.at("hidden_norm").fail("hidden_norm needs hidden > 0");
    check_norm(*head.hidden_norm, where.at("hidden_norm"));
  }
  if (head.num_classes < 1) {
    where.at("num_classes").fail(fmt::format("num_classes={} must be >= 1", head.num_classes));
  }
}

std::int64_t stem_output_size(const StemSpec& stem, std::int64_t resolution, const Where& where) {
  if (resolution < 1) where.fail(fmt::format("resolution={} must be >= 1", resolution));
  std::int64_t size = resolution;
  for (std::size_t i = 0; i < stem.convs.size(); ++i) {
    const StemConv& conv = stem.convs[i];
    const Where at = where.at("convs").at(i);
    check_conv_geometry(conv.kernel, conv.stride, conv.pad, at);
    size = conv_output(size, conv.kernel, conv.stride, conv.pad, at,
                       fmt::format(" at input resolution {}", resolution));
  }
  return size;
}

std::int64_t downsample_output_size(const DownsampleSpec& downsample, std::int64_t size,
                                    std::int64_t resolution, const Where& where) {
  if (downsample.kind == DownsampleKind::PatchMerging) return (size + 1) / 2;
  if (downsample.kind == DownsampleKind::SePatchMerging) {
    // The depthwise conv 3x3 s2 p1; the 1x1 convs keep the size.
    return conv_output(size, 3, 2, 1, where, fmt::format(" at input resolution {}", resolution));
  }
  check_conv_geometry(downsample.kernel, downsample.stride, downsample.pad, where);
  return conv_output(size, downsample.kernel, downsample.stride, downsample.pad, where,
                     fmt::format(" at input resolution {}", resolution));
}

}  // namespace hwnas::detail

namespace hwnas {

std::int64_t se_channels(std::int64_t hid, double se_ratio) {
  constexpr std::int64_t kDivisor = 8;
  const auto rounded =
      static_cast<std::int64_t>(se_ratio * static_cast<double>(hid) + kDivisor / 2.0) / kDivisor *
      kDivisor;
  return std::max(kDivisor, rounded);
}

}  // namespace hwnas
