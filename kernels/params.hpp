// Op parameters as text: the canonical key of a descriptor and the key=value arguments of
// `hwnas bench-op` are the same thing.
//
// A canonical key is "<op>:<name>=<value>,<name>=<value>,..." with every parameter present, in the
// order of the op's ParamSpec list, e.g. "linear:m=3136,k=96,n=384,bias=1,act=none". Like
// benchdnn's problem string, the same key names the benchmark, the SQLite row, the test case and the
// log line, and it parses back into the same descriptor.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace hwnas {

// One parameter of an op. Word parameters have a list of allowed words (choices non-empty); the
// others are numbers whose kind says how they are written, with an inclusive range [min, max]:
//   Integer      "96"
//   Real         a decimal that round-trips: "1e-05", "0.17677669" (to_string of a desc writes the
//                shortest form that parses back to the same float); nan and inf are refused
//   IntegerList  integers joined by 'x', each in [min, max]: "1x56x56x96" (commas separate keys)
struct ParamSpec {
  enum class Kind { Integer, Real, IntegerList };

  std::string name;
  std::string default_value;
  std::int64_t min = 0;
  std::int64_t max = 0;
  std::vector<std::string> choices;
  std::string help;
  Kind kind = Kind::Integer;  // ignored for word parameters

  bool is_word() const { return !choices.empty(); }
};

// The separator of IntegerList values.
inline constexpr char kListSeparator = 'x';

// Validated values for every parameter of one op (defaults filled in).
class Params {
 public:
  // Parses "name=value" assignments. Throws InvalidArgument naming the op and the key for: an unknown
  // name, a missing '=', a repeated name, a malformed or out-of-range number (integer, real or list
  // item), a word not in choices.
  static Params parse(std::string_view op, std::span<const ParamSpec> specs,
                      std::span<const std::string> assignments);
  // Parses a canonical key "<op>:a=1,b=2"; the op name must equal `op`.
  static Params from_key(std::string_view op, std::span<const ParamSpec> specs, std::string_view key);

  std::int64_t integer(std::string_view name) const;  // asserts the name exists and is an integer
  double real(std::string_view name) const;           // asserts the name exists and is a Real
  std::vector<std::int64_t> integers(std::string_view name) const;  // an IntegerList
  const std::string& word(std::string_view name) const;
  const std::string& op() const { return op_; }
  // Every parameter as (name, text), in spec order.
  const std::vector<std::pair<std::string, std::string>>& values() const { return values_; }

  // The canonical key: every parameter in spec order.
  std::string key() const;

 private:
  std::string op_;
  std::vector<std::pair<std::string, std::string>> values_;  // spec order
};

// Builds a canonical key from already-typed values; each op's to_string(desc) uses it.
std::string make_key(std::string_view op,
                     std::initializer_list<std::pair<std::string_view, std::string>> values);

}  // namespace hwnas
