// Internal to store/: running bound statements and converting values to and from columns, shared by
// store.cpp and arch_rows.cpp. Not part of the store's interface (apps/ never includes it).
#pragma once

#include <fmt/format.h>

#include <bit>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "store/sqlite.hpp"

namespace hwnas::store_detail {

// Running a statement the caller has bound. Every use binds every parameter of its statement, so
// nothing of an earlier use can leak into this one; the helpers reset the statement on every way
// out.

// An INSERT / UPDATE ... RETURNING id: the id of the row it wrote, or nullopt when it wrote none.
// The reset also matters for the caller's COMMIT, which refuses to pass a write statement still in
// progress (one that has returned its row but not yet reached SQLITE_DONE).
inline std::optional<std::int64_t> returning_id(sqlite::Statement& q) {
  sqlite::ScopedReset reset(q);
  if (!q.step()) return std::nullopt;
  return q.column_int64(0);
}

// The first row of a query, converted by read(const Statement&), or nullopt.
template <class Read>
auto first_row(sqlite::Statement& q, Read read) -> std::optional<decltype(read(q))> {
  sqlite::ScopedReset reset(q);
  if (!q.step()) return std::nullopt;
  return read(q);
}

// Every row of a query, converted by read(const Statement&).
template <class Read>
auto all_rows(sqlite::Statement& q, Read read) -> std::vector<decltype(read(q))> {
  sqlite::ScopedReset reset(q);
  std::vector<decltype(read(q))> rows;
  while (q.step()) rows.push_back(read(q));
  return rows;
}

inline std::optional<std::string_view> empty_as_null(const std::string& text) {
  if (text.empty()) return std::nullopt;
  return text;
}

// Raw samples as little-endian IEEE-754 float64, whatever the host's byte order, so a file moves
// between machines unchanged.
inline std::vector<std::byte> encode_samples(std::span<const double> samples) {
  std::vector<std::byte> bytes;
  bytes.reserve(samples.size() * 8);
  for (double v : samples) {
    const auto bits = std::bit_cast<std::uint64_t>(v);
    for (int b = 0; b < 8; ++b) bytes.push_back(static_cast<std::byte>(bits >> (8 * b)));
  }
  return bytes;
}

// `what` names the row in the error ("measurement 7", "layer time 3 of measurement 7").
inline std::vector<double> decode_samples(std::span<const std::byte> bytes, std::string_view what,
                                          const std::string& path) {
  if (bytes.size() % 8 != 0) {
    throw IoError(
        fmt::format("store: {} has a samples blob of {} bytes, not a whole number of float64 [{}]",
                    what, bytes.size(), path));
  }
  std::vector<double> samples(bytes.size() / 8);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    std::uint64_t bits = 0;
    for (int b = 0; b < 8; ++b) bits |= std::to_integer<std::uint64_t>(bytes[i * 8 + b]) << (8 * b);
    samples[i] = std::bit_cast<double>(bits);
  }
  return samples;
}

}  // namespace hwnas::store_detail
