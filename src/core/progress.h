// A progress bar on stderr when it is a terminal; silent otherwise (logs and CI stay clean).
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

namespace lp {

// Optional process-wide observer of every Progress (embedders such as the Python package forward it to a
// callback): called with the label, done and total at most every 100 ms per bar and at the end, whether or not
// a terminal bar is drawn. Not thread-safe to change while bars are running.
using ProgressObserver = std::function<void(const std::string& label, uint64_t done, uint64_t total)>;
void set_progress_observer(ProgressObserver observer);

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
  std::chrono::steady_clock::time_point start_, last_draw_, last_notify_;
};

}  // namespace lp
