// HWNAS_ASSERT: a check for programmer errors only (never for user input, STYLE.md §4.3). Compiled in
// debug builds; it prints what broke and aborts.
#pragma once

namespace hwnas::detail {
[[noreturn]] void assert_fail(const char* expr, const char* file, int line) noexcept;
}

#ifdef NDEBUG
#define HWNAS_ASSERT(cond) static_cast<void>(0)
#else
#define HWNAS_ASSERT(cond) \
  ((cond) ? static_cast<void>(0) : ::hwnas::detail::assert_fail(#cond, __FILE__, __LINE__))
#endif
