#include "apps/arch_source.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <system_error>

#include "kernels/error.hpp"

namespace hwnas::cli {

namespace fs = std::filesystem;

std::string catalog_dir() {
  if (const char* dir = std::getenv("HWNAS_CATALOG_DIR"); dir != nullptr && *dir != '\0')
    return dir;
  return (fs::path(HWNAS_SOURCE_DIR) / "supernet" / "catalog").string();
}

std::vector<std::string> catalog_names(const std::string& dir) {
  std::vector<std::string> names;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().extension() == ".json") names.push_back(it->path().stem().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

ArchSource resolve_arch(const std::string& name_or_path) {
  std::error_code ec;
  const bool is_path = fs::is_regular_file(name_or_path, ec) ||
                       name_or_path.find('/') != std::string::npos ||
                       fs::path(name_or_path).extension() == ".json";
  std::string path = name_or_path;
  if (is_path) {
    if (!fs::is_regular_file(path, ec))
      throw InvalidArgument(fmt::format("{}: no such file", path));
  } else {
    const std::string dir = catalog_dir();
    path = (fs::path(dir) / (name_or_path + ".json")).string();
    if (!fs::is_regular_file(path, ec)) {
      const std::vector<std::string> names = catalog_names(dir);
      throw InvalidArgument(
          fmt::format("unknown architecture '{}': not a file, and not in the catalog {} ({})",
                      name_or_path, dir,
                      names.empty() ? std::string("which is empty or missing")
                                    : fmt::format("which has {}", fmt::join(names, ", "))));
    }
  }
  try {
    return {.arch = load_arch_file(path), .path = path};
  } catch (const IoError& e) {
    // A file we found but cannot read is still the user's input (a directory, no permission).
    throw InvalidArgument(e.what());
  }
}

}  // namespace hwnas::cli
