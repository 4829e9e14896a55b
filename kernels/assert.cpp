#include "kernels/assert.hpp"

#include <cstdio>
#include <cstdlib>

namespace hwnas::detail {

void assert_fail(const char* expr, const char* file, int line) noexcept {
  std::fprintf(stderr, "hwnas: internal assertion failed: %s at %s:%d\n", expr, file, line);
  std::abort();
}

}  // namespace hwnas::detail
