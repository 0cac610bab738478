// Progress on stderr. On a terminal: a bar redrawn in place with elapsed time and an ETA. Otherwise (logs, CI,
// pipes): a plain line at most every `line_interval` (default 5 s), so a long job shows it is alive and a killed
// one leaves its last state in the log, while quick jobs stay silent; a closing "done" line follows if any
// line was printed. `enabled = false` (--quiet, --json) prints nothing.
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
  Progress(std::string label, uint64_t total, bool enabled = true,
           std::chrono::milliseconds line_interval = std::chrono::seconds(5));
  ~Progress();
  void advance(uint64_t n = 1, const std::string& detail = {});
  void set(uint64_t done, const std::string& detail = {});
  void finish();

  // "12s", "3m05s", "1h02m": compact durations for progress output.
  static std::string format_duration(double seconds);
  // "ETA 3m05s" from the elapsed time and the fraction done ("ETA ?" before any progress).
  static std::string eta(double elapsed_seconds, uint64_t done, uint64_t total);

 private:
  void draw(const std::string& detail);
  void line(const std::string& detail);
  std::string label_;
  uint64_t total_;
  uint64_t done_ = 0;
  bool enabled_, tty_;
  bool finished_ = false, printed_line_ = false;
  std::chrono::milliseconds line_interval_;
  std::chrono::steady_clock::time_point start_, last_draw_, last_notify_;
};

}  // namespace lp
