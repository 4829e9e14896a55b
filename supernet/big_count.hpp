// Internal to supernet/: a non-negative integer of any size, for counting the architectures of a
// search space exactly (the default space has far more than 2^64).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace hwnas::detail {

class BigCount {
 public:
  explicit BigCount(std::uint64_t value = 0);
  BigCount& operator+=(const BigCount& other);
  friend BigCount operator*(const BigCount& a, const BigCount& b);
  std::string decimal() const;  // "0", "12345678901234567890123"
  friend bool operator==(const BigCount&, const BigCount&) = default;

 private:
  static constexpr std::uint32_t kBase = 1'000'000'000;  // one decimal limb: 9 digits
  std::vector<std::uint32_t> limbs_;                     // least significant first; no zero on top
};

}  // namespace hwnas::detail
