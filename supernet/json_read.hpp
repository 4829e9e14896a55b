// Internal to supernet/: typed reads of JSON values for the Arch and SearchSpace parsers, each
// failing with the value's JSON path (detail::Where). Only supernet's .cpp files include this
// header, so nlohmann_json stays out of every public header (STYLE.md §2).
#pragma once

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <iterator>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "supernet/spec_parts.hpp"

namespace hwnas::detail::json {

using Json = nlohmann::json;
using Keys = std::initializer_list<std::string_view>;

// At most 40 characters of the value's JSON, for messages.
std::string brief(const Json& value);
void require_object(const Json& value, const Where& where);
const Json& require_array(const Json& value, const Where& where);
// Fails on the first key of `object` not in `keys`, listing them (a typo must not pass silently).
void check_keys(const Json& object, const Where& where, Keys keys);
const Json* member(const Json& object, std::string_view key);  // nullptr when absent
const Json& required(const Json& object, std::string_view key, const Where& where);
std::int64_t read_integer(const Json& value, const Where& where);
double read_number(const Json& value, const Where& where);
bool read_bool(const Json& value, const Where& where);
std::string read_string(const Json& value, const Where& where);
// A mixer parameter value given as a string or a number, as text (7.0 becomes "7": JSON does not
// tell 7.0 from 7, so neither do we).
std::string param_text(const Json& value, const Where& where);
Json parse_json(std::string_view text, const Where& where);
// The whole file; IoError naming the path when it cannot be read.
std::string read_text_file(const std::string& path);

// The index of the word in `words`.
template <std::size_t N>
std::size_t read_word(const Json& value, const Where& where, const std::string_view (&words)[N]) {
  const std::string word = read_string(value, where);
  const auto it = std::find(std::begin(words), std::end(words), word);
  if (it == std::end(words)) {
    where.fail(fmt::format("'{}' is not one of {}", word, fmt::join(words, ", ")));
  }
  return static_cast<std::size_t>(it - std::begin(words));
}

}  // namespace hwnas::detail::json
