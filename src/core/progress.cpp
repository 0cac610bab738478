#include "core/progress.h"

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

namespace lp {

namespace {
ProgressObserver& observer() {
  static ProgressObserver o;
  return o;
}
}  // namespace

void set_progress_observer(ProgressObserver o) { observer() = std::move(o); }

Progress::Progress(std::string label, uint64_t total, bool enabled)
    : label_(std::move(label)), total_(total), tty_(enabled && ::isatty(STDERR_FILENO) == 1) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
  last_notify_ = start_ - std::chrono::seconds(1);
}

Progress::~Progress() { finish(); }

void Progress::advance(uint64_t n, const std::string& detail) { set(done_ + n, detail); }

void Progress::set(uint64_t done, const std::string& detail) {
  done_ = done;
  auto now = std::chrono::steady_clock::now();
  if (observer() && (done_ >= total_ || now - last_notify_ >= std::chrono::milliseconds(100))) {
    last_notify_ = now;
    observer()(label_, done_, total_);
  }
  if (!tty_) return;
  if (done_ < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(detail);
}

void Progress::draw(const std::string& detail) {
  const int width = 30;
  double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  if (frac > 1) frac = 1;
  int filled = static_cast<int>(frac * width);
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), '.');
  std::string d = detail.size() > 40 ? detail.substr(0, 37) + "..." : detail;
  std::fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %llu/%llu %.1fs %s", label_.c_str(), bar.c_str(), frac * 100,
               static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_), secs, d.c_str());
  std::fflush(stderr);
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (tty_) {
    draw("");
    std::fputc('\n', stderr);
  }
}

}  // namespace lp
