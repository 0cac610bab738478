// Per-process scratch paths for unit tests. ctest runs every test case in its own process and several at once,
// so a fixed name under /tmp lets one case delete or overwrite what another is reading (seen in CI).
#pragma once

#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace lp::test {

namespace detail {
// Removes every path handed out when the test process exits.
class ScratchRegistry {
 public:
  void add(const std::filesystem::path& p) {
    std::lock_guard lock(mutex_);
    paths_.push_back(p);
  }
  ~ScratchRegistry() {
    std::error_code ec;
    for (const auto& p : paths_) std::filesystem::remove_all(p, ec);
  }

 private:
  std::mutex mutex_;
  std::vector<std::filesystem::path> paths_;
};
inline ScratchRegistry& registry() {
  static ScratchRegistry r;
  return r;
}
}  // namespace detail

// temp_directory_path()/<stem>-<pid>-<n>: unique within and across concurrent test processes, removed at exit.
// Nothing is created; the caller makes a file or a directory there.
inline std::filesystem::path scratch_path(std::string_view stem) {
  static std::atomic<int> counter{0};
  auto p = std::filesystem::temp_directory_path() /
           (std::string(stem) + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
  detail::registry().add(p);
  return p;
}

}  // namespace lp::test
