#include "tests/support/test_util.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstdlib>
#include <limits>

namespace hwnas::testing {

Engine test_engine() { return Engine::cpu({.threads = 2 <= available_processors() ? 2 : 1}); }

std::string key_to_test_name(std::string key) {
  for (char& c : key) {
    if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
  }
  return key;
}

std::uint64_t fresh_seed(const std::string& what) {
  std::uint64_t seed = 0;
  if (const char* env = std::getenv("HWNAS_TEST_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = (static_cast<std::uint64_t>(std::random_device{}()) << 32) ^ std::random_device{}();
  }
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  std::fprintf(stderr, "[seed] %s HWNAS_TEST_SEED=%llu\n", what.c_str(), static_cast<unsigned long long>(seed));
  return seed;
}

namespace {
template <typename Gen>
void fill_with(TensorView view, Gen&& gen) {
  Tensor tmp = Tensor::empty(view.shape());
  for (std::int64_t i = 0; i < tmp.numel(); ++i) tmp.f32()[i] = gen();
  copy(tmp.view(), view);
}
}  // namespace

void fill_uniform(TensorView view, std::mt19937_64& rng, float lo, float hi) {
  std::uniform_real_distribution<float> dist(lo, hi);
  fill_with(view, [&] { return dist(rng); });
}

void fill_integers(TensorView view, std::mt19937_64& rng, int lo, int hi) {
  std::uniform_int_distribution<int> dist(lo, hi);
  fill_with(view, [&] { return static_cast<float>(dist(rng)); });
}

Tensor random_tensor(const Shape& shape, std::mt19937_64& rng, float lo, float hi) {
  Tensor t = Tensor::empty(shape);
  fill_uniform(t.view(), rng, lo, hi);
  return t;
}

void poison(TensorView view) {
  fill_with(view, [] { return std::numeric_limits<float>::quiet_NaN(); });
}

double gamma(double n) {
  const double u = std::ldexp(1.0, -24);
  return n * u / (1.0 - n * u);
}

::testing::AssertionResult all_close(const std::string& key, const ConstTensorView& got,
                                     const reference::RefOutput& ref, const Tolerance& tol) {
  if (got.numel() != static_cast<std::int64_t>(ref.value.size())) {
    return ::testing::AssertionFailure() << key << ": got " << got.numel() << " elements, reference has "
                                         << ref.value.size();
  }
  int failures = 0;
  std::string report;
  for (std::int64_t i = 0; i < got.numel(); ++i) {
    const double g = reference::at(got, i);
    const double r = ref.value[static_cast<std::size_t>(i)];
    const double t = tol(r, ref.magnitude[static_cast<std::size_t>(i)], i);
    if (!(std::abs(g - r) <= t)) {  // also catches NaN (an unwritten, poisoned element)
      // Decode the flat index into the reference's shape for the message.
      std::string index;
      std::int64_t rest = i;
      for (int a = ref.shape.rank() - 1; a >= 0; --a) {
        index = fmt::format("{}{}{}", rest % ref.shape[a], index.empty() ? "" : ",", index);
        rest /= ref.shape[a];
      }
      report += fmt::format("\n  {} at ({}): got={:.9g} ref={:.9g} diff={:.3g} tol={:.3g}", key, index, g, r,
                            std::abs(g - r), t);
      if (++failures == 10) {
        report += "\n  (stopping after 10 failures)";
        break;
      }
    }
  }
  if (failures == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << failures << " element(s) out of tolerance:" << report;
}

}  // namespace hwnas::testing
