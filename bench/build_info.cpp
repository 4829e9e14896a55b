#include "bench/build_info.hpp"

#include <sstream>

// Defines HWNAS_GIT_SHA; written into the build tree by cmake/write_git_sha.cmake.
#include "build_info_git.inc"

// Set on this file only by bench/CMakeLists.txt; the fallbacks keep a non-CMake build honest.
#ifndef HWNAS_BUILD_TYPE
#define HWNAS_BUILD_TYPE "unknown"
#endif
#ifndef HWNAS_CXX_COMPILER
#define HWNAS_CXX_COMPILER "unknown"
#endif
#ifndef HWNAS_CXX_FLAGS
#define HWNAS_CXX_FLAGS ""
#endif

namespace hwnas {

namespace {
// The flags are joined from several CMake variables, some empty; collapse the runs of blanks.
std::string squeeze_spaces(const std::string& text) {
  std::istringstream words(text);
  std::string word, out;
  while (words >> word) {
    if (!out.empty()) out += ' ';
    out += word;
  }
  return out;
}
}  // namespace

const BuildInfo& build_info() {
  static const BuildInfo kInfo{.compiler = HWNAS_CXX_COMPILER,
                               .build_flags = squeeze_spaces(HWNAS_CXX_FLAGS),
                               .build_type = HWNAS_BUILD_TYPE,
                               .code_version = HWNAS_GIT_SHA};
  return kInfo;
}

}  // namespace hwnas
