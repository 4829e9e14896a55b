#include "kernels/params.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "kernels/assert.hpp"
#include "kernels/error.hpp"

namespace hwnas {
namespace {

std::int64_t parse_integer(std::string_view op, const ParamSpec& spec, std::string_view text) {
  std::int64_t value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) {
    throw InvalidArgument(fmt::format("{}: {}={} is not an integer", op, spec.name, text));
  }
  if (value < spec.min || value > spec.max) {
    throw InvalidArgument(
        fmt::format("{}: {}={} is out of range [{}, {}]", op, spec.name, value, spec.min, spec.max));
  }
  return value;
}

double parse_real(std::string_view op, const ParamSpec& spec, std::string_view text) {
  double value = 0;
  const auto* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(value)) {
    throw InvalidArgument(
        fmt::format("{}: {}={} is not a finite decimal number", op, spec.name, text));
  }
  if (value < static_cast<double>(spec.min) || value > static_cast<double>(spec.max)) {
    throw InvalidArgument(
        fmt::format("{}: {}={} is out of range [{}, {}]", op, spec.name, text, spec.min, spec.max));
  }
  return value;
}

std::vector<std::int64_t> parse_list(std::string_view op, const ParamSpec& spec,
                                     std::string_view text) {
  std::vector<std::int64_t> items;
  std::string_view rest = text;
  while (true) {
    const auto sep = rest.find(kListSeparator);
    const std::string_view item = rest.substr(0, sep);
    std::int64_t value = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), value);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size()) {
      throw InvalidArgument(fmt::format("{}: {}={} is not a list of integers joined by '{}'", op,
                                        spec.name, text, kListSeparator));
    }
    if (value < spec.min || value > spec.max) {
      throw InvalidArgument(fmt::format("{}: {}={} has item {}={} out of range [{}, {}]", op,
                                        spec.name, text, items.size(), value, spec.min, spec.max));
    }
    items.push_back(value);
    if (sep == std::string_view::npos) break;
    rest = rest.substr(sep + 1);
  }
  return items;
}

void check_value(std::string_view op, const ParamSpec& spec, std::string_view text) {
  if (spec.is_word()) {
    if (std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
      throw InvalidArgument(fmt::format("{}: {}={} is not one of {}", op, spec.name, text,
                                        fmt::join(spec.choices, ", ")));
    }
    return;
  }
  switch (spec.kind) {
    case ParamSpec::Kind::Integer: parse_integer(op, spec, text); break;
    case ParamSpec::Kind::Real: parse_real(op, spec, text); break;
    case ParamSpec::Kind::IntegerList: parse_list(op, spec, text); break;
  }
}

}  // namespace

Params Params::parse(std::string_view op, std::span<const ParamSpec> specs,
                     std::span<const std::string> assignments) {
  Params params;
  params.op_ = std::string(op);
  std::vector<std::string> given(specs.size());
  std::vector<bool> seen(specs.size(), false);
  for (const std::string& assignment : assignments) {
    const auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) {
      throw InvalidArgument(fmt::format("{}: '{}' is not of the form key=value", op, assignment));
    }
    const std::string_view name = std::string_view(assignment).substr(0, eq);
    const std::string_view value = std::string_view(assignment).substr(eq + 1);
    const auto it = std::find_if(specs.begin(), specs.end(),
                                 [&](const ParamSpec& s) { return s.name == name; });
    if (it == specs.end()) {
      std::vector<std::string_view> names;
      for (const ParamSpec& s : specs) names.push_back(s.name);
      throw InvalidArgument(
          fmt::format("{}: unknown key '{}'; keys are {}", op, name, fmt::join(names, ", ")));
    }
    const auto index = static_cast<std::size_t>(it - specs.begin());
    if (seen[index]) throw InvalidArgument(fmt::format("{}: key '{}' given twice", op, name));
    check_value(op, *it, value);
    seen[index] = true;
    given[index] = std::string(value);
  }
  for (std::size_t i = 0; i < specs.size(); ++i) {
    params.values_.emplace_back(specs[i].name, seen[i] ? given[i] : specs[i].default_value);
  }
  return params;
}

Params Params::from_key(std::string_view op, std::span<const ParamSpec> specs, std::string_view key) {
  const auto colon = key.find(':');
  if (colon == std::string_view::npos || key.substr(0, colon) != op) {
    throw InvalidArgument(fmt::format("{}: key '{}' does not start with '{}:'", op, key, op));
  }
  std::vector<std::string> assignments;
  std::string_view rest = key.substr(colon + 1);
  while (!rest.empty()) {
    const auto comma = rest.find(',');
    assignments.emplace_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return parse(op, specs, assignments);
}

std::int64_t Params::integer(std::string_view name) const {
  for (const auto& [n, v] : values_) {
    if (n == name) {
      std::int64_t value = 0;
      const auto result = std::from_chars(v.data(), v.data() + v.size(), value);
      HWNAS_ASSERT(result.ec == std::errc() && result.ptr == v.data() + v.size());
      static_cast<void>(result);
      return value;
    }
  }
  HWNAS_ASSERT(false && "Params::integer: no such parameter");
  return 0;
}

// Values were validated by parse(), so reading them again cannot fail.
double Params::real(std::string_view name) const {
  for (const auto& [n, v] : values_) {
    if (n == name) {
      double value = 0;
      const auto result = std::from_chars(v.data(), v.data() + v.size(), value);
      HWNAS_ASSERT(result.ec == std::errc() && result.ptr == v.data() + v.size());
      static_cast<void>(result);
      return value;
    }
  }
  HWNAS_ASSERT(false && "Params::real: no such parameter");
  return 0;
}

std::vector<std::int64_t> Params::integers(std::string_view name) const {
  for (const auto& [n, v] : values_) {
    if (n == name) {
      const ParamSpec spec{.name = n,
                           .min = std::numeric_limits<std::int64_t>::min(),
                           .max = std::numeric_limits<std::int64_t>::max()};
      return parse_list(op_, spec, v);
    }
  }
  HWNAS_ASSERT(false && "Params::integers: no such parameter");
  return {};
}

const std::string& Params::word(std::string_view name) const {
  for (const auto& [n, v] : values_) {
    if (n == name) return v;
  }
  HWNAS_ASSERT(false && "Params::word: no such parameter");
  static const std::string kEmpty;
  return kEmpty;
}

std::string Params::key() const {
  std::vector<std::string> parts;
  for (const auto& [n, v] : values_) parts.push_back(fmt::format("{}={}", n, v));
  return fmt::format("{}:{}", op_, fmt::join(parts, ","));
}

std::string make_key(std::string_view op,
                     std::initializer_list<std::pair<std::string_view, std::string>> values) {
  std::vector<std::string> parts;
  for (const auto& [n, v] : values) parts.push_back(fmt::format("{}={}", n, v));
  return fmt::format("{}:{}", op, fmt::join(parts, ","));
}

}  // namespace hwnas
