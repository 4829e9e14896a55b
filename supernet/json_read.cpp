#include "supernet/json_read.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <limits>
#include <sstream>

#include "kernels/error.hpp"

namespace hwnas::detail::json {

std::string brief(const Json& value) {
  std::string text = value.dump();
  return text.size() <= 40 ? text : text.substr(0, 37) + "...";
}

void require_object(const Json& value, const Where& where) {
  if (!value.is_object()) where.fail(fmt::format("expected an object, got {}", brief(value)));
}

const Json& require_array(const Json& value, const Where& where) {
  if (!value.is_array()) where.fail(fmt::format("expected an array, got {}", brief(value)));
  return value;
}

void check_keys(const Json& object, const Where& where, Keys keys) {
  for (const auto& item : object.items()) {
    if (std::find(keys.begin(), keys.end(), item.key()) == keys.end()) {
      where.fail(fmt::format("unknown key '{}'; keys are {}", item.key(), fmt::join(keys, ", ")));
    }
  }
}

const Json* member(const Json& object, std::string_view key) {
  const auto it = object.find(std::string(key));
  return it == object.end() ? nullptr : &*it;
}

const Json& required(const Json& object, std::string_view key, const Where& where) {
  const Json* value = member(object, key);
  if (value == nullptr) where.fail(fmt::format("missing required key '{}'", key));
  return *value;
}

std::int64_t read_integer(const Json& value, const Where& where) {
  if (value.is_number_unsigned() &&
      value.get<std::uint64_t>() >
          static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) {
    where.fail(fmt::format("{} is too large", brief(value)));
  }
  if (!value.is_number_integer())
    where.fail(fmt::format("expected an integer, got {}", brief(value)));
  return value.get<std::int64_t>();
}

double read_number(const Json& value, const Where& where) {
  if (!value.is_number()) where.fail(fmt::format("expected a number, got {}", brief(value)));
  return value.get<double>();
}

bool read_bool(const Json& value, const Where& where) {
  if (!value.is_boolean()) where.fail(fmt::format("expected true or false, got {}", brief(value)));
  return value.get<bool>();
}

std::string read_string(const Json& value, const Where& where) {
  if (!value.is_string()) where.fail(fmt::format("expected a string, got {}", brief(value)));
  return value.get<std::string>();
}

Json parse_json(std::string_view text, const Where& where) {
  try {
    return Json::parse(text);
  } catch (const Json::parse_error& e) {
    where.fail(fmt::format("malformed JSON: {}", e.what()));
  }
}

std::string param_text(const Json& value, const Where& where) {
  if (value.is_string()) return value.get<std::string>();
  if (value.is_number_integer()) return value.dump();
  // 7.0 becomes "7": JSON does not tell 7.0 from 7, so neither do we.
  if (value.is_number_float()) return detail::format_real(value.get<double>());
  where.fail(fmt::format("expected a number or a string, got {}", brief(value)));
}

std::string read_text_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  if (!file) throw IoError(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

}  // namespace hwnas::detail::json
