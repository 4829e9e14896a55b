// Shared by the layer tests (tests/kernels/{mlp,patch_embed,...}_test.cpp): one layer config run
// through the registry against its float64 reference, and an error-message check.
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <iostream>
#include <string>
#include <vector>

#include "kernels/error.hpp"
#include "kernels/layers/layer.hpp"
#include "tests/support/test_util.hpp"

namespace hwnas::testing {

// Random input in [-1, 1] and weights drawn by kind, poisoned dst, |got - ref| <= tolerance *
// max(magnitude, 1). Prints the largest observed error ratio (err / (tolerance * max(mag, 1))).
inline void expect_layer_matches_reference(const std::string& layer,
                                           const std::vector<std::string>& words) {
  const LayerEntry& entry = find_layer(layer);
  const Params params = Params::parse(entry.name, entry.params, words);
  const std::string key = entry.check(params);
  std::mt19937_64 rng(fresh_seed(key));
  const Tensor src = random_tensor(entry.src_shape(params), rng);
  RandomWeights weights = make_random_weights(entry.weights(params), rng);
  Tensor dst = Tensor::empty(entry.dst_shape(params));
  poison(dst.view());
  const auto plan = entry.create(test_engine(), params, weights.views);
  plan->run(src.cview(), dst.view());
  const reference::RefOutput ref = entry.reference(params, src.cview(), weights.views);
  ASSERT_EQ(ref.shape, dst.shape()) << key;
  double worst = 0;
  for (std::size_t i = 0; i < ref.value.size(); ++i) {
    const double err = std::abs(static_cast<double>(dst.f32()[i]) - ref.value[i]);
    worst = std::max(worst, err / std::max(ref.magnitude[i], 1.0));
  }
  std::cout << "[ layer ] " << key << " impl=" << plan->impl_name()
            << " max_err/max(mag,1)=" << worst << " tolerance=" << entry.tolerance << "\n";
  EXPECT_TRUE(all_close(key, dst.cview(), ref, [&](double, double mag, std::int64_t) {
    return entry.tolerance * std::max(mag, 1.0);
  }));
}

// The config is refused with InvalidArgument whose message contains `fragment`.
inline void expect_layer_error(const std::string& layer, const std::vector<std::string>& words,
                               const std::string& fragment) {
  const LayerEntry& entry = find_layer(layer);
  try {
    const Params params = Params::parse(entry.name, entry.params, words);
    entry.check(params);
    FAIL() << layer << ": expected InvalidArgument containing '" << fragment << "'";
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
  }
}

}  // namespace hwnas::testing
