// Logging for the layers above kernels/ (kernels never log). One line per event on stderr, a
// component tag plus key=value fields: "[bench-op] key=linear:... median_ms=0.123". The level is set
// once by apps/ (--log-level); data (tables, JSON) goes to stdout, never through here.
#pragma once

#include <fmt/format.h>

#include <string_view>

namespace hwnas::log {

enum class Level { Error = 0, Warn = 1, Info = 2, Debug = 3 };

void set_level(Level level);
Level level();
Level parse_level(std::string_view name);  // throws InvalidArgument
void write(Level level, std::string_view component, std::string_view message);

template <typename... Args>
void error(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  write(Level::Error, component, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (level() >= Level::Warn) write(Level::Warn, component, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void info(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (level() >= Level::Info) write(Level::Info, component, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void debug(std::string_view component, fmt::format_string<Args...> f, Args&&... args) {
  if (level() >= Level::Debug) write(Level::Debug, component, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace hwnas::log
