// The error types of hwnas (STYLE.md §4). what() is the whole message: where, what, the value and the
// rule it broke, e.g. "conv2d: groups=3 must divide ic=32 [conv2d:n=1,ic=32,...]".
//
// Only apps/*/main.cpp catches Error; it exits 2 for InvalidArgument and 1 for the others.
#pragma once

#include <stdexcept>
#include <string>

namespace hwnas {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Bad user input: a desc field, a CLI flag, a config value, a key=value pair.
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A valid request that no implementation can run; the message lists each implementation's reason.
class Unsupported : public Error {
 public:
  using Error::Error;
};

// A file, JSON or SQLite failure; the message includes the path, SQL or library message.
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace hwnas
