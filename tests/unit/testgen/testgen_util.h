// Shared helpers for the testgen unit tests.
#pragma once
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace lp::testgen::test {

// A fresh directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("lp_testgen_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

struct Stats {
  double mean = 0, std = 0, max_abs = 0;
  bool finite = true;
};

inline Stats stats_of(const std::vector<float>& v) {
  Stats s;
  double sum = 0, sum2 = 0;
  for (float x : v) {
    if (!std::isfinite(x)) s.finite = false;
    sum += x;
    sum2 += static_cast<double>(x) * x;
    s.max_abs = std::max(s.max_abs, static_cast<double>(std::fabs(x)));
  }
  const double n = static_cast<double>(v.size());
  s.mean = sum / n;
  s.std = std::sqrt(std::max(0.0, sum2 / n - s.mean * s.mean));
  return s;
}

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace lp::testgen::test
