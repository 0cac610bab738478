// One exception type for every user-facing failure. The message is a single line that names the
// file and/or field at fault; executables print it as "error: <message>" and exit non-zero.
#pragma once
#include <fmt/format.h>
#include <stdexcept>
#include <string>

namespace lp {

class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <typename... Args>
[[noreturn]] inline void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Checked narrowing for sizes read from untrusted files.
#define LP_CHECK(cond, ...)                  \
  do {                                       \
    if (!(cond)) ::lp::fail(__VA_ARGS__);    \
  } while (0)

}  // namespace lp
