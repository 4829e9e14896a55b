// The evaluator interfaces are header-only; this unit gives the search library its first object
// file and checks that the header stands alone.
#include "search/evaluator.hpp"
