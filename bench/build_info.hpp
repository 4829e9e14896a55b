// How this binary was built: recorded with every run so a measurement can be traced to its code and
// compiler settings (Google Benchmark's context block, llama.cpp's build_commit).
#pragma once

#include <string>

namespace hwnas {

struct BuildInfo {
  std::string compiler;      // CMake's compiler id and version, "GNU 12.2.0"
  std::string build_flags;   // CMAKE_CXX_FLAGS + the configuration's flags + add_compile_options
  std::string build_type;    // "Release", "Debug", ... (empty when CMake was given none)
  std::string code_version;  // git SHA (12 hex digits), "-dirty" when tracked files differ; "unknown"
};

// Fixed at compile time; the git SHA is regenerated on every build.
const BuildInfo& build_info();

}  // namespace hwnas
