// The quantities a user types for budgets: "20ms", "0.02s", "20" (milliseconds); "30M", "2.5G",
// "500K", "30e6" (a count). Internal to apps/.
#pragma once

#include <string_view>

namespace hwnas::cli {

// Milliseconds from "<number>[ms|s|us]" (no unit = ms). Throws InvalidArgument naming `flag` and the
// text for junk, a unit it does not know, or a value that is not finite and > 0.
double parse_milliseconds(std::string_view text, std::string_view flag);

// A count from "<number>[K|M|G]" (powers of 1000; no suffix = as written). Throws InvalidArgument like
// parse_milliseconds.
double parse_count(std::string_view text, std::string_view flag);

}  // namespace hwnas::cli
