// A progress bar on stderr when it is a terminal; silent otherwise (logs and CI stay clean).
#pragma once
#include <chrono>
#include <cstdint>
#include <string>

namespace lp {

class Progress {
 public:
  Progress(std::string label, uint64_t total, bool enabled = true);
  ~Progress();
  void advance(uint64_t n = 1, const std::string& detail = {});
  void set(uint64_t done, const std::string& detail = {});
  void finish();

 private:
  void draw(const std::string& detail);
  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool tty_;
  bool finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace lp
