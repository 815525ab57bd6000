// Error handling: bad input (files, requests, user options) throws trellis::Error with a
// one-line message naming the thing and the problem. Asserts are for logic errors only.
#pragma once
#include <sstream>
#include <stdexcept>
#include <string>

namespace trellis {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Concatenates any streamable values into one string.
template <class... Args>
std::string cat(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  return os.str();
}

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  throw Error(cat(args...));
}

}  // namespace trellis
