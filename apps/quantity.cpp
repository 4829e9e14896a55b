#include "apps/quantity.hpp"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <string>

#include "kernels/error.hpp"

namespace hwnas::cli {
namespace {

struct NumberAndUnit {
  double value = 0;
  std::string_view unit;
};

NumberAndUnit split(std::string_view text, std::string_view flag, std::string_view example) {
  NumberAndUnit out;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out.value);
  if (ec != std::errc() || end == text.data()) {
    throw InvalidArgument(
        fmt::format("{} '{}' is not a number with an optional unit (e.g. {})", flag, text, example));
  }
  out.unit = text.substr(static_cast<std::size_t>(end - text.data()));
  return out;
}

double positive(double value, std::string_view text, std::string_view flag) {
  if (!std::isfinite(value) || value <= 0) {
    throw InvalidArgument(fmt::format("{} '{}' must be a finite value > 0", flag, text));
  }
  return value;
}

}  // namespace

double parse_milliseconds(std::string_view text, std::string_view flag) {
  const NumberAndUnit n = split(text, flag, "20ms, 0.02s");
  double scale = 0;
  if (n.unit.empty() || n.unit == "ms") {
    scale = 1;
  } else if (n.unit == "s") {
    scale = 1e3;
  } else if (n.unit == "us") {
    scale = 1e-3;
  } else {
    throw InvalidArgument(
        fmt::format("{} '{}': unknown unit '{}'; use ms, s or us", flag, text, n.unit));
  }
  return positive(n.value * scale, text, flag);
}

double parse_count(std::string_view text, std::string_view flag) {
  const NumberAndUnit n = split(text, flag, "30M, 500K");
  double scale = 0;
  if (n.unit.empty()) {
    scale = 1;
  } else if (n.unit == "K" || n.unit == "k") {
    scale = 1e3;
  } else if (n.unit == "M") {
    scale = 1e6;
  } else if (n.unit == "G") {
    scale = 1e9;
  } else {
    throw InvalidArgument(
        fmt::format("{} '{}': unknown suffix '{}'; use K, M or G", flag, text, n.unit));
  }
  return positive(n.value * scale, text, flag);
}

}  // namespace hwnas::cli
