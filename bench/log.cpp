#include "bench/log.hpp"

#include <atomic>
#include <cstdio>

#include "kernels/error.hpp"

namespace hwnas::log {
namespace {
std::atomic<Level> g_level{Level::Info};  // process-wide by nature: stderr is one stream
}

void set_level(Level l) { g_level.store(l); }
Level level() { return g_level.load(); }

Level parse_level(std::string_view name) {
  if (name == "error") return Level::Error;
  if (name == "warn") return Level::Warn;
  if (name == "info") return Level::Info;
  if (name == "debug") return Level::Debug;
  throw InvalidArgument(fmt::format("--log-level: got '{}', expected error, warn, info or debug", name));
}

void write(Level l, std::string_view component, std::string_view message) {
  static constexpr std::string_view kPrefix[] = {"error: ", "warning: ", "", ""};
  const std::string line =
      fmt::format("[{}] {}{}\n", component, kPrefix[static_cast<int>(l)], message);
  std::fputs(line.c_str(), stderr);
}

}  // namespace hwnas::log
