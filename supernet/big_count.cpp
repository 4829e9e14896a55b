#include "supernet/big_count.hpp"

#include <fmt/format.h>

namespace hwnas::detail {

BigCount::BigCount(std::uint64_t value) {
  for (; value > 0; value /= kBase) limbs_.push_back(static_cast<std::uint32_t>(value % kBase));
}

BigCount& BigCount::operator+=(const BigCount& other) {
  if (limbs_.size() < other.limbs_.size()) limbs_.resize(other.limbs_.size(), 0);
  std::uint32_t carry = 0;
  for (std::size_t i = 0; i < limbs_.size(); ++i) {
    const std::uint32_t sum = limbs_[i] + carry + (i < other.limbs_.size() ? other.limbs_[i] : 0);
    limbs_[i] = sum % kBase;
    carry = sum / kBase;
  }
  if (carry > 0) limbs_.push_back(carry);
  return *this;
}

BigCount operator*(const BigCount& a, const BigCount& b) {
  BigCount product;
  if (a.limbs_.empty() || b.limbs_.empty()) return product;
  std::vector<std::uint64_t> sums(a.limbs_.size() + b.limbs_.size(), 0);
  for (std::size_t i = 0; i < a.limbs_.size(); ++i) {
    std::uint64_t carry = 0;
    for (std::size_t j = 0; j < b.limbs_.size(); ++j) {
      // < 1e9 + (1e9 - 1)^2 + 1e9: fits in 64 bits.
      const std::uint64_t cell = sums[i + j] + std::uint64_t{a.limbs_[i]} * b.limbs_[j] + carry;
      sums[i + j] = cell % BigCount::kBase;
      carry = cell / BigCount::kBase;
    }
    sums[i + b.limbs_.size()] += carry;
  }
  for (const std::uint64_t limb : sums) product.limbs_.push_back(static_cast<std::uint32_t>(limb));
  while (!product.limbs_.empty() && product.limbs_.back() == 0) product.limbs_.pop_back();
  return product;
}

std::string BigCount::decimal() const {
  if (limbs_.empty()) return "0";
  std::string text = fmt::format("{}", limbs_.back());
  for (std::size_t i = limbs_.size() - 1; i-- > 0;) text += fmt::format("{:09}", limbs_[i]);
  return text;
}

}  // namespace hwnas::detail
