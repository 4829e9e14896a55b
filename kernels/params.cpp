#include "kernels/params.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <charconv>

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

void check_value(std::string_view op, const ParamSpec& spec, std::string_view text) {
  if (spec.is_word()) {
    if (std::find(spec.choices.begin(), spec.choices.end(), text) == spec.choices.end()) {
      throw InvalidArgument(fmt::format("{}: {}={} is not one of {}", op, spec.name, text,
                                        fmt::join(spec.choices, ", ")));
    }
  } else {
    parse_integer(op, spec, text);
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
