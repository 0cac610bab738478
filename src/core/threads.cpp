#include "core/threads.h"

#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <string>
#include <utility>

namespace lp {

int physical_cores() {
  static const int cached = [] {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::set<std::pair<int, int>> cores;
    int phys = -1;
    std::string line;
    while (std::getline(cpuinfo, line)) {
      const size_t colon = line.find(':');
      if (colon == std::string::npos) continue;
      try {
        if (line.rfind("physical id", 0) == 0) phys = std::stoi(line.substr(colon + 1));
        if (line.rfind("core id", 0) == 0) cores.insert({phys, std::stoi(line.substr(colon + 1))});
      } catch (const std::exception&) {
      }
    }
    const int online = std::max(1, static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN)));
    if (cores.empty()) return online;
    return std::max(1, std::min(online, static_cast<int>(cores.size())));
  }();
  return cached;
}

}  // namespace lp
