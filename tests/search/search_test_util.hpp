// Shared helpers of the search tests: the default space, a tiny space small enough to enumerate,
// and an InvalidArgument check against a substring of the message.
#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <string>

#include "kernels/error.hpp"
#include "supernet/search_space.hpp"

namespace hwnas::testing {

inline const SearchSpace& default_space() {
  static const SearchSpace space =
      load_search_space_file(std::string(HWNAS_SOURCE_DIR) + "/supernet/spaces/default.json");
  return space;
}

// Two stems, stage 0 with widths 8 (window attention allowed: head_dim 8) and 10 (not), depth 1-2.
inline const SearchSpace& tiny_space() {
  static const SearchSpace space = parse_search_space(R"({
    "name": "tiny",
    "resolutions": [32, 48],
    "stems": [
      {"convs": [{"kernel": 4, "stride": 4}], "norm": {"norm": "ln"}},
      {"convs": [{"out": 4, "kernel": 3, "stride": 2, "pad": 1},
                 {"kernel": 3, "stride": 2, "pad": 1}], "act": "gelu_erf"}
    ],
    "norm": {"norm": "ln", "eps": 1e-6},
    "mlp": {"mlp": "mlp", "act": "gelu_erf"},
    "layer_scale": true,
    "stages": [
      {"depths": [1, 2], "widths": [8, 10], "mlp_ratios": [2, 4],
       "mixers": [
         {"mixer": "dwconv", "k": [3, 5]},
         {"mixer": "window_attention", "shift": [0, 1], "window": 2, "head_dim": [8]},
         {"mixer": "gnconv", "order": [2, 3]}
       ]},
      {"depths": [1, 2], "widths": [16, 24], "mlp_ratios": [3],
       "downsample": {"downsample": "patch_merging"},
       "mixers": [{"mixer": "pool_mixer", "pool": [3, 5]}]}
    ],
    "head": {"norm": {"norm": "ln"}, "num_classes": 10}
  })",
                                                      "tiny.json");
  return space;
}

inline void expect_invalid(const std::function<void()>& body, const std::string& needle) {
  try {
    body();
    ADD_FAILURE() << "expected InvalidArgument containing '" << needle << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << needle;
  }
}

}  // namespace hwnas::testing
