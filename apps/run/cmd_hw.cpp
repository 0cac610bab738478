// `hw`: what this machine is (CPU features, cores, caches, NUMA, memory with the cgroup limit, GPUs) and the
// hardware profile it matches; --probe measures the read bandwidth decode is bound by. --root reads a recorded
// snapshot of another machine (tests/data/hw/<machine>/) instead of this one. docs/HARDWARE.md.
#include <cstdio>
#include <memory>
#include <string>

#include "common/command.h"
#include "core/error.h"
#include "core/units.h"
#include "hw/machine.h"
#include "hw/plan.h"

namespace {

struct HwOptions {
  std::string root = "/";
  bool json = false, probe = false;
  int threads = 0;
};

// Cache sizes as the kernel and the vendors write them (32 KiB, 1 MiB).
std::string binary_size(uint64_t b) {
  if (b >= (1ull << 20) && b % (1ull << 20) == 0) return std::to_string(b >> 20) + " MiB";
  if (b >= 1024 && b % 1024 == 0) return std::to_string(b >> 10) + " KiB";
  return std::to_string(b) + " B";
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : " ") + x;
  return s.empty() ? "(none that our kernels use)" : s;
}

int run(const HwOptions& o) {
  lp::hw::Machine m = lp::hw::detect(o.root);
  if (o.probe) {
    if (o.root != "/") lp::fail("--probe measures this machine; it cannot be combined with --root {}", o.root);
    m.bandwidth_gbs = lp::hw::probe_bandwidth(o.threads > 0 ? o.threads : m.cpu.compute_cores(m.cgroup_cpus));
  }
  const lp::hw::Profile& p = lp::hw::match_profile(m);
  if (o.json) {
    nlohmann::json j = lp::hw::to_json(m);
    j["profile"] = {{"id", p.id}, {"name", p.name}, {"why", p.why}, {"settings", p.settings}};
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  const auto& c = m.cpu;
  const std::string name = c.model.rfind(c.vendor, 0) == 0 ? c.model : c.vendor + " " + c.model;
  std::printf("cpu      %s (%s)\n", name.c_str(), c.arch.empty() ? "unknown arch" : c.arch.c_str());
  std::printf("features %s\n", join(c.features).c_str());
  std::printf("cores    %d physical, %d logical, %d package(s)", c.physical, c.logical, c.packages);
  if (c.efficiency_cores > 0) std::printf("; hybrid: %d performance + %d efficiency", c.performance_cores, c.efficiency_cores);
  if (m.cgroup_cpus > 0) std::printf("; cgroup CPU quota %.2f", m.cgroup_cpus);
  std::printf("; compute threads %d\n", c.compute_cores(m.cgroup_cpus));
  for (const auto& k : c.caches)
    std::printf("cache    L%d %-11s %s (shared by %d)\n", k.level, k.type.c_str(), binary_size(k.bytes).c_str(), k.shared_by);
  std::printf("numa     %d node(s)\n", c.numa_nodes);
  std::printf("memory   %s total, %s available", lp::format_bytes(m.memory.total).c_str(), lp::format_bytes(m.memory.available).c_str());
  if (m.memory.cgroup_limit > 0)
    std::printf(", cgroup limit %s (%s used)", lp::format_bytes(m.memory.cgroup_limit).c_str(), lp::format_bytes(m.memory.cgroup_usage).c_str());
  std::printf(" -> usable %s\n", lp::format_bytes(m.memory.usable()).c_str());
  if (m.gpus.empty()) std::printf("gpu      none found\n");
  for (const auto& g : m.gpus)
    std::printf("gpu      %s%s%s [%s]\n", g.name.c_str(), g.integrated ? " (integrated, shares system memory)" : "",
                g.memory_bytes ? (", " + lp::format_bytes(g.memory_bytes)).c_str() : "", g.source.c_str());
  if (!m.board.empty()) std::printf("board    %s\n", m.board.c_str());
  if (m.bandwidth_gbs) std::printf("bandwidth %.1f GB/s read (measured, %d threads)\n", *m.bandwidth_gbs, o.threads > 0 ? o.threads : c.compute_cores(m.cgroup_cpus));
  std::printf("profile  %s: %s\n         %s\n", p.id.c_str(), p.name.c_str(), p.why.c_str());
  return 0;
}

lp::app::RegisterCommand reg{{"hw", "Detect this machine: CPU features, cores, caches, memory (cgroup-aware), GPUs, profile",
                              [](CLI::App& sub) {
                                auto o = std::make_shared<HwOptions>();
                                sub.add_flag("--json", o->json, "machine-readable output");
                                sub.add_flag("--probe", o->probe, "measure the memory read bandwidth (about a second)");
                                lp::app::add_threads(sub, o->threads);
                                sub.add_option("--root", o->root, "read a recorded machine snapshot under this folder instead of /")
                                    ->check(CLI::ExistingDirectory)
                                    ->capture_default_str();
                                return [o] { return run(*o); };
                              }}};

}  // namespace
