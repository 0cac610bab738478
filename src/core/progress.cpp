#include "core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>

#include <fmt/format.h>

namespace lp {

namespace {
double since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}
ProgressObserver& observer() {
  static ProgressObserver o;
  return o;
}
}  // namespace

void set_progress_observer(ProgressObserver o) { observer() = std::move(o); }

Progress::Progress(std::string label, uint64_t total, bool enabled, std::chrono::milliseconds line_interval)
    : label_(std::move(label)),
      total_(total),
      enabled_(enabled),
      tty_(enabled && ::isatty(STDERR_FILENO) == 1),
      line_interval_(line_interval) {
  start_ = last_draw_ = std::chrono::steady_clock::now();
  last_notify_ = start_ - std::chrono::seconds(1);
}

Progress::~Progress() { finish(); }

std::string Progress::format_duration(double s) {
  if (!std::isfinite(s) || s < 0) return "?";
  if (s < 10) return fmt::format("{:.1f}s", s);
  const long long t = std::llround(s);
  if (t < 60) return fmt::format("{}s", t);
  if (t < 3600) return fmt::format("{}m{:02}s", t / 60, t % 60);
  return fmt::format("{}h{:02}m", t / 3600, (t % 3600) / 60);
}

std::string Progress::eta(double elapsed, uint64_t done, uint64_t total) {
  if (done == 0 || total == 0) return "ETA ?";
  if (done >= total) return "ETA 0s";
  return "ETA " + format_duration(elapsed * static_cast<double>(total - done) / static_cast<double>(done));
}

void Progress::advance(uint64_t n, const std::string& detail) { set(done_ + n, detail); }

void Progress::set(uint64_t done, const std::string& detail) {
  done_ = done;
  const auto now = std::chrono::steady_clock::now();
  if (observer() && (done_ >= total_ || now - last_notify_ >= std::chrono::milliseconds(100))) {
    last_notify_ = now;
    observer()(label_, done_, total_);
  }
  if (!enabled_ || finished_) return;
  if (tty_) {
    if (done_ < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    draw(detail);
  } else if (done_ < total_ && now - last_draw_ >= line_interval_) {
    last_draw_ = now;
    line(detail);
  }
}

void Progress::draw(const std::string& detail) {
  const int width = 30;
  double frac = total_ ? static_cast<double>(done_) / static_cast<double>(total_) : 1.0;
  if (frac > 1) frac = 1;
  const int filled = static_cast<int>(frac * width);
  const double secs = since(start_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.append(static_cast<size_t>(width - filled), '.');
  const std::string d = detail.size() > 40 ? detail.substr(0, 37) + "..." : detail;
  const std::string timing = done_ >= total_ ? format_duration(secs) : format_duration(secs) + " " + eta(secs, done_, total_);
  std::fprintf(stderr, "\r\033[K%s [%s] %3.0f%% %llu/%llu %s %s", label_.c_str(), bar.c_str(), frac * 100,
               static_cast<unsigned long long>(done_), static_cast<unsigned long long>(total_), timing.c_str(), d.c_str());
  std::fflush(stderr);
}

void Progress::line(const std::string& detail) {
  const double frac = total_ ? std::min(1.0, static_cast<double>(done_) / static_cast<double>(total_)) : 1.0;
  const double secs = since(start_);
  std::string text = fmt::format("{}: {:.0f}% ({}/{}) {} elapsed, {}", label_, frac * 100, done_, total_,
                                 format_duration(secs), eta(secs, done_, total_));
  if (!detail.empty()) text += " " + detail;
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
  printed_line_ = true;
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  if (!enabled_) return;
  if (tty_) {
    draw("");
    std::fputc('\n', stderr);
  } else if (printed_line_) {
    std::fprintf(stderr, "%s: done (%llu/%llu) in %s\n", label_.c_str(), static_cast<unsigned long long>(done_),
                 static_cast<unsigned long long>(total_), format_duration(since(start_)).c_str());
    std::fflush(stderr);
  }
}

}  // namespace lp
