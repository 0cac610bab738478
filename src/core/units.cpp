#include "core/units.h"

#include <cctype>
#include <charconv>
#include <cmath>

#include "core/error.h"

namespace lp {

uint64_t parse_size(std::string_view text, std::string_view what) {
  std::string s(text);
  size_t i = 0;
  while (i < s.size() && (std::isdigit(static_cast<unsigned char>(s[i])) || s[i] == '.')) ++i;
  if (i == 0) fail("{}: '{}' is not a size (examples: 4.7GB, 512MiB, 1000000)", what, text);
  double value = 0;
  try {
    value = std::stod(s.substr(0, i));
  } catch (...) {
    fail("{}: '{}' is not a size", what, text);
  }
  std::string unit;
  for (char c : s.substr(i))
    if (!std::isspace(static_cast<unsigned char>(c))) unit += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  double mult = 1;
  if (unit.empty() || unit == "b") mult = 1;
  else if (unit == "k" || unit == "kb") mult = 1e3;
  else if (unit == "m" || unit == "mb") mult = 1e6;
  else if (unit == "g" || unit == "gb") mult = 1e9;
  else if (unit == "t" || unit == "tb") mult = 1e12;
  else if (unit == "kib") mult = 1024.0;
  else if (unit == "mib") mult = 1024.0 * 1024;
  else if (unit == "gib") mult = 1024.0 * 1024 * 1024;
  else if (unit == "tib") mult = 1024.0 * 1024 * 1024 * 1024;
  else fail("{}: unknown unit '{}' in '{}' (use B, KB, MB, GB, KiB, MiB, GiB)", what, unit, text);
  return static_cast<uint64_t>(std::llround(value * mult));
}

std::string format_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", bytes) : fmt::format("{:.2f} {}", v, units[u]);
}

std::string format_count(uint64_t count) {
  double v = static_cast<double>(count);
  if (v >= 1e12) return fmt::format("{:.1f}T", v / 1e12);
  if (v >= 1e9) return fmt::format("{:.1f}B", v / 1e9);
  if (v >= 1e6) return fmt::format("{:.1f}M", v / 1e6);
  if (v >= 1e3) return fmt::format("{:.1f}K", v / 1e3);
  return fmt::format("{}", count);
}

}  // namespace lp
