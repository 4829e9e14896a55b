// Whether an op adds a learned bias (linear, conv2d, ...): an enum, not a bool, at call sites.
#pragma once

namespace hwnas {

enum class Bias { None, Add };

}  // namespace hwnas
