#include "hw/machine.h"
#include "core/file_io.h"
#include "core/error.h"
#include "core/random.h"
#include "kernels/matmul.h"
#include "quant/quantize.h"

#include <dlfcn.h>

#include <algorithm>
#include <fmt/format.h>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <cstdio>

namespace lp::hw {
namespace fs = std::filesystem;

namespace {

std::string read_text(const fs::path& p) { return try_read_file(p).value_or(std::string()); }

std::string trim(std::string_view s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return {};
  const auto e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

std::optional<uint64_t> read_u64(const fs::path& p) {
  const std::string t = trim(read_text(p));
  if (t.empty() || t.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  try {
    return std::stoull(t);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

fs::path under(const fs::path& root, std::string_view abs) { return root / fs::path(std::string(abs)).relative_path(); }

// "32K", "1024K", "32M" (sysfs cache sizes) -> bytes
uint64_t parse_size(const std::string& s) {
  uint64_t v = 0;
  size_t i = 0;
  while (i < s.size() && std::isdigit(static_cast<unsigned char>(s[i]))) v = v * 10 + (s[i++] - '0');
  if (i < s.size()) {
    const char u = static_cast<char>(std::toupper(static_cast<unsigned char>(s[i])));
    if (u == 'K') v <<= 10;
    if (u == 'M') v <<= 20;
    if (u == 'G') v <<= 30;
  }
  return v;
}

const std::map<std::string, std::string>& arm_implementers() {
  static const std::map<std::string, std::string> m = {
      {"0x41", "ARM"}, {"0x42", "Broadcom"}, {"0x43", "Cavium"}, {"0x48", "HiSilicon"}, {"0x4e", "NVIDIA"},
      {"0x51", "Qualcomm"}, {"0x61", "Apple"}, {"0xc0", "Ampere"}};
  return m;
}

// ARM Ltd. part numbers of the cores found in servers and boards (the kernel's arch/arm64 cputype.h list).
const std::map<std::string, std::string>& arm_parts() {
  static const std::map<std::string, std::string> m = {
      {"0xd08", "Cortex-A72"}, {"0xd0b", "Cortex-A76"}, {"0xd0c", "Neoverse-N1"}, {"0xd40", "Neoverse-V1"},
      {"0xd41", "Cortex-A78"}, {"0xd42", "Cortex-A78AE"}, {"0xd49", "Neoverse-N2"}, {"0xd4f", "Neoverse-V2"},
      {"0xd8e", "Neoverse-N3"}, {"0xd84", "Neoverse-V3"}};
  return m;
}

void add_features_x86(const std::string& flags, std::set<std::string>& out) {
  static const std::set<std::string> keep = {"sse4_2", "avx", "avx2", "fma", "f16c", "avx512f", "avx512bw", "avx512vl",
                                             "avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16"};
  std::istringstream s(flags);
  std::string f;
  while (s >> f) {
    if (f == "avx512vnni") f = "avx512_vnni";  // older kernels' spelling
    if (keep.count(f)) out.insert(f);
  }
}

void add_features_arm(const std::string& flags, std::set<std::string>& out) {
  static const std::map<std::string, std::string> map = {{"asimd", "neon"}, {"asimddp", "dotprod"}, {"asimdhp", "fp16"},
                                                         {"i8mm", "i8mm"},  {"bf16", "bf16"},        {"sve", "sve"},
                                                         {"sve2", "sve2"}};
  std::istringstream s(flags);
  std::string f;
  while (s >> f)
    if (auto it = map.find(f); it != map.end()) out.insert(it->second);
}

void read_cpuinfo(const fs::path& root, Cpu& cpu) {
  std::istringstream in(read_text(under(root, "/proc/cpuinfo")));
  std::string line, implementer, part;
  std::set<std::string> features;
  std::set<std::pair<int, int>> cores;
  std::set<int> packages;
  int phys = 0, processors = 0;
  while (std::getline(in, line)) {
    const size_t colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string key = trim(std::string_view(line).substr(0, colon));
    const std::string val = trim(std::string_view(line).substr(colon + 1));
    try {
      if (key == "processor") ++processors;
      else if (key == "vendor_id") cpu.vendor = val == "AuthenticAMD" ? "AMD" : val == "GenuineIntel" ? "Intel" : val;
      else if (key == "model name" && cpu.model.empty()) cpu.model = val;
      else if (key == "flags") cpu.arch = "x86_64", add_features_x86(val, features);
      else if (key == "Features") cpu.arch = "aarch64", add_features_arm(val, features);
      else if (key == "CPU implementer" && implementer.empty()) implementer = val;
      else if (key == "CPU part" && part.empty()) part = val;
      else if (key == "physical id") phys = std::stoi(val), packages.insert(phys);
      else if (key == "core id") cores.insert({phys, std::stoi(val)});
    } catch (const std::exception&) {
    }
  }
  if (!implementer.empty()) {
    const auto it = arm_implementers().find(implementer);
    cpu.vendor = it != arm_implementers().end() ? it->second : "ARM implementer " + implementer;
    if (cpu.model.empty()) {
      const auto p = arm_parts().find(part);
      cpu.model = implementer == "0x41" && p != arm_parts().end() ? p->second : cpu.vendor + " part " + part;
    }
  }
  cpu.features.assign(features.begin(), features.end());
  cpu.logical = processors;
  if (!cores.empty()) cpu.physical = static_cast<int>(cores.size());
  if (!packages.empty()) cpu.packages = static_cast<int>(packages.size());
}

// sysfs topology is more reliable than cpuinfo (ARM cpuinfo has no core ids); it wins where present.
void read_topology(const fs::path& root, Cpu& cpu) {
  const fs::path base = under(root, "/sys/devices/system/cpu");
  std::vector<int> online = parse_cpu_list(read_text(base / "online"));
  if (!online.empty()) cpu.logical = static_cast<int>(online.size());
  std::set<std::pair<uint64_t, uint64_t>> cores;
  std::set<uint64_t> packages;
  std::map<int, std::pair<uint64_t, uint64_t>> core_of;
  for (int c : online) {
    const fs::path t = base / ("cpu" + std::to_string(c)) / "topology";
    const auto pkg = read_u64(t / "physical_package_id");
    const auto core = read_u64(t / "core_id");
    if (!pkg || !core) continue;
    cores.insert({*pkg, *core});
    packages.insert(*pkg);
    core_of[c] = {*pkg, *core};
  }
  if (!cores.empty()) {
    cpu.physical = static_cast<int>(cores.size());
    cpu.packages = static_cast<int>(packages.size());
  }
  if (cpu.logical == 0) cpu.logical = std::max(1, cpu.physical);
  if (cpu.physical == 0) cpu.physical = cpu.logical;
  // Intel hybrid: the kernel's cpu_core (P) and cpu_atom (E) PMUs list their CPUs.
  const auto count_cores = [&](const std::vector<int>& cpus) {
    std::set<std::pair<uint64_t, uint64_t>> s;
    for (int c : cpus)
      if (auto it = core_of.find(c); it != core_of.end()) s.insert(it->second);
    return s.empty() ? static_cast<int>(cpus.size()) : static_cast<int>(s.size());
  };
  const auto p = parse_cpu_list(read_text(under(root, "/sys/devices/cpu_core/cpus")));
  const auto e = parse_cpu_list(read_text(under(root, "/sys/devices/cpu_atom/cpus")));
  if (!p.empty() && !e.empty()) {
    cpu.performance_cores = count_cores(p);
    cpu.efficiency_cores = count_cores(e);
  }
  // Caches of cpu0, each level once.
  const fs::path cache = base / "cpu0" / "cache";
  std::error_code ec;
  if (fs::is_directory(cache, ec)) {
    std::vector<fs::path> dirs;
    for (const auto& d : fs::directory_iterator(cache, ec))
      if (d.path().filename().string().rfind("index", 0) == 0) dirs.push_back(d.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
      CacheLevel c;
      c.level = static_cast<int>(read_u64(d / "level").value_or(0));
      c.type = trim(read_text(d / "type"));
      c.bytes = parse_size(trim(read_text(d / "size")));
      c.shared_by = std::max<int>(1, static_cast<int>(parse_cpu_list(read_text(d / "shared_cpu_list")).size()));
      if (c.level > 0) cpu.caches.push_back(c);
    }
  }
  const fs::path nodes = under(root, "/sys/devices/system/node");
  int n = 0;
  if (fs::is_directory(nodes, ec))
    for (const auto& d : fs::directory_iterator(nodes, ec)) {
      const std::string name = d.path().filename().string();
      if (name.size() > 4 && name.rfind("node", 0) == 0 && std::all_of(name.begin() + 4, name.end(), ::isdigit)) ++n;
    }
  cpu.numa_nodes = std::max(1, n);
}

void read_meminfo(const fs::path& root, Memory& mem) {
  std::istringstream in(read_text(under(root, "/proc/meminfo")));
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream l(line);
    if (!(l >> key >> kb)) continue;
    if (key == "MemTotal:") mem.total = kb << 10;
    if (key == "MemAvailable:") mem.available = kb << 10;
  }
  if (mem.available == 0) mem.available = mem.total;
}

// /proc/self/cgroup names this process's group per controller; v2 has one line "0::/path".
void read_cgroup(const fs::path& root, Memory& mem, double& cpus) {
  std::istringstream in(read_text(under(root, "/proc/self/cgroup")));
  std::string line, v2, v1_mem, v1_cpu;
  bool has_v2 = false, has_v1_mem = false, has_v1_cpu = false;
  while (std::getline(in, line)) {
    const size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    const std::string ctrl = line.substr(a + 1, b - a - 1), path = trim(line.substr(b + 1));
    if (line.rfind("0::", 0) == 0) v2 = path, has_v2 = true;
    std::istringstream cs(ctrl);
    std::string c;
    while (std::getline(cs, c, ',')) {
      if (c == "memory") v1_mem = path, has_v1_mem = true;
      if (c == "cpu") v1_cpu = path, has_v1_cpu = true;
    }
  }
  // The group's folder, or the mount's root inside a container whose cgroup namespace hides the path.
  const auto group_file = [&](const std::string& mount, const std::string& path, const std::string& file) -> fs::path {
    const fs::path base = under(root, mount);
    const fs::path p = base / fs::path(path).relative_path() / file;
    std::error_code ec;
    return fs::exists(p, ec) ? p : base / file;
  };
  const uint64_t unlimited = 1ull << 62;
  if (has_v1_mem) {
    const auto lim = read_u64(group_file("/sys/fs/cgroup/memory", v1_mem, "memory.limit_in_bytes"));
    if (lim && *lim < unlimited) mem.cgroup_limit = *lim;
    mem.cgroup_usage = read_u64(group_file("/sys/fs/cgroup/memory", v1_mem, "memory.usage_in_bytes")).value_or(0);
  }
  if (has_v2 && mem.cgroup_limit == 0) {
    const auto lim = read_u64(group_file("/sys/fs/cgroup", v2, "memory.max"));  // "max" reads as nullopt
    if (lim && *lim < unlimited) mem.cgroup_limit = *lim;
    mem.cgroup_usage = read_u64(group_file("/sys/fs/cgroup", v2, "memory.current")).value_or(mem.cgroup_usage);
  }
  if (has_v1_cpu) {
    const std::string q = trim(read_text(group_file("/sys/fs/cgroup/cpu", v1_cpu, "cpu.cfs_quota_us")));
    const auto period = read_u64(group_file("/sys/fs/cgroup/cpu", v1_cpu, "cpu.cfs_period_us"));
    try {
      if (!q.empty() && q != "-1" && period && *period > 0) cpus = std::stod(q) / static_cast<double>(*period);
    } catch (const std::exception&) {
    }
  }
  if (has_v2 && cpus == 0) {
    std::istringstream s(read_text(group_file("/sys/fs/cgroup", v2, "cpu.max")));
    std::string quota;
    double period = 0;
    if (s >> quota >> period && quota != "max" && period > 0) {
      try {
        cpus = std::stod(quota) / period;
      } catch (const std::exception&) {
      }
    }
  }
}

void read_gpus(const fs::path& root, Machine& m) {
  std::error_code ec;
  // NVIDIA's driver: one folder per GPU with "Model: ..." in its information file.
  const fs::path nv = under(root, "/proc/driver/nvidia/gpus");
  if (fs::is_directory(nv, ec)) {
    std::vector<fs::path> dirs;
    for (const auto& d : fs::directory_iterator(nv, ec)) dirs.push_back(d.path());
    std::sort(dirs.begin(), dirs.end());
    for (const auto& d : dirs) {
      std::istringstream in(read_text(d / "information"));
      std::string line;
      Gpu g{"nvidia", "NVIDIA GPU", 0, false, "/proc/driver/nvidia/gpus/" + d.filename().string()};
      while (std::getline(in, line))
        if (line.rfind("Model:", 0) == 0) g.name = trim(line.substr(6));
      m.gpus.push_back(g);
    }
  }
  // DRM devices of other vendors (amdgpu reports its VRAM; Intel iGPUs share system memory).
  const fs::path drm = under(root, "/sys/class/drm");
  if (fs::is_directory(drm, ec)) {
    std::vector<fs::path> cards;
    for (const auto& d : fs::directory_iterator(drm, ec)) {
      const std::string n = d.path().filename().string();
      if (n.rfind("card", 0) == 0 && n.find('-') == std::string::npos) cards.push_back(d.path());
    }
    std::sort(cards.begin(), cards.end());
    for (const auto& c : cards) {
      const std::string vendor = trim(read_text(c / "device" / "vendor"));
      const std::string device = trim(read_text(c / "device" / "device"));
      Gpu g;
      g.source = "/sys/class/drm/" + c.filename().string();
      if (vendor == "0x1002") {
        g.vendor = "amd";
        g.name = "AMD GPU " + device;
        g.memory_bytes = read_u64(c / "device" / "mem_info_vram_total").value_or(0);
      } else if (vendor == "0x8086") {
        g.vendor = "intel";
        g.name = "Intel GPU " + device;
        g.integrated = true;
      } else {
        continue;  // NVIDIA cards are listed from the driver above; virtual displays are not GPUs
      }
      m.gpus.push_back(g);
    }
  }
  // Jetson: the GPU is part of the SoC and shares the board's memory.
  m.board = trim(read_text(under(root, "/proc/device-tree/model")));
  m.board.erase(std::find(m.board.begin(), m.board.end(), '\0'), m.board.end());
  if (m.board.find("Jetson") != std::string::npos && m.gpus.empty())
    m.gpus.push_back(Gpu{"nvidia", m.board + " GPU", 0, true, "/proc/device-tree/model"});
}

// NVML on the live machine: the only source of a discrete NVIDIA GPU's memory size.
void ask_nvml(Machine& m) {
  void* lib = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (!lib) return;
  using init_t = int (*)();
  using count_t = int (*)(unsigned*);
  using handle_t = int (*)(unsigned, void**);
  using name_t = int (*)(void*, char*, unsigned);
  struct MemInfo { unsigned long long total, free, used; };
  using mem_t = int (*)(void*, MemInfo*);
  auto init = reinterpret_cast<init_t>(dlsym(lib, "nvmlInit_v2"));
  auto count = reinterpret_cast<count_t>(dlsym(lib, "nvmlDeviceGetCount_v2"));
  auto handle = reinterpret_cast<handle_t>(dlsym(lib, "nvmlDeviceGetHandleByIndex_v2"));
  auto name = reinterpret_cast<name_t>(dlsym(lib, "nvmlDeviceGetName"));
  auto mem = reinterpret_cast<mem_t>(dlsym(lib, "nvmlDeviceGetMemoryInfo"));
  unsigned n = 0;
  if (init && count && handle && name && mem && init() == 0 && count(&n) == 0) {
    std::erase_if(m.gpus, [](const Gpu& g) { return g.vendor == "nvidia" && !g.integrated; });
    for (unsigned i = 0; i < n; ++i) {
      void* h = nullptr;
      char buf[96] = {};
      MemInfo mi{};
      if (handle(i, &h) != 0) continue;
      Gpu g{"nvidia", "NVIDIA GPU", 0, false, "NVML"};
      if (name(h, buf, sizeof buf) == 0) g.name = buf;
      if (mem(h, &mi) == 0) g.memory_bytes = mi.total;
      m.gpus.push_back(g);
    }
  }
  dlclose(lib);
}

}  // namespace

std::vector<int> parse_cpu_list(std::string_view list) {
  std::vector<int> out;
  std::string s = trim(list);
  std::istringstream in(s);
  std::string part;
  while (std::getline(in, part, ',')) {
    try {
      const size_t dash = part.find('-');
      if (dash == std::string::npos) {
        if (!trim(part).empty()) out.push_back(std::stoi(part));
      } else {
        const int a = std::stoi(part.substr(0, dash)), b = std::stoi(part.substr(dash + 1));
        for (int i = a; i <= b && b - a < 65536; ++i) out.push_back(i);
      }
    } catch (const std::exception&) {
    }
  }
  return out;
}

bool Cpu::has(std::string_view feature) const {
  return std::find(features.begin(), features.end(), feature) != features.end();
}

int Cpu::compute_cores(double cgroup_cpus) const {
  int n = performance_cores > 0 ? performance_cores : physical;
  if (cgroup_cpus > 0) n = std::min(n, std::max(1, static_cast<int>(cgroup_cpus + 0.5)));
  return std::max(1, n);
}

uint64_t Memory::usable() const {
  uint64_t u = available;
  if (cgroup_limit > 0) u = std::min(u, cgroup_limit > cgroup_usage ? cgroup_limit - cgroup_usage : 0);
  return u;
}

Machine detect(const fs::path& root) {
  Machine m;
  m.root = root.string();
  read_cpuinfo(root, m.cpu);
  read_topology(root, m.cpu);
  read_meminfo(root, m.memory);
  read_cgroup(root, m.memory, m.cgroup_cpus);
  read_gpus(root, m);
  std::error_code ec;
  if (fs::equivalent(root, "/", ec)) ask_nvml(m);
  return m;
}

double probe_bandwidth(int threads, uint64_t bytes, double seconds) {
  threads = std::max(1, threads);
  const size_t n = std::max<size_t>(1, bytes / sizeof(uint64_t));
  std::vector<uint64_t> buf(n);
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) buf[i] = i;  // touch every page (first touch by the thread that reads it)
  double best = 0, elapsed = 0;
  uint64_t sink = 0;
  for (int rep = 0; rep < 3 || elapsed < seconds; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t total = 0;
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
    for (size_t i = 0; i < n; ++i) total += buf[i];
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    elapsed += s;
    sink += total;
    best = std::max(best, static_cast<double>(n * sizeof(uint64_t)) / s / 1e9);
  }
  if (sink == 42) std::fputc(' ', stderr);  // keeps the sums from being optimised away
  return best;
}

std::string to_string(const MatrixShape& s) { return fmt::format("{} {}x{}", ggml_type_name(s.type), s.rows, s.cols); }

double probe_matvec(const MatrixShape& shape, int threads, uint64_t bytes, double seconds) {
  const GgmlType type = shape.type;
  if (!kernels::matmul_supported(type) || !quant::can_quantize(type))
    fail("probe_matvec: weight type {} is not one our kernels run", ggml_type_name(type));
  if (shape.rows <= 0 || shape.cols <= 0 || shape.cols % ggml_traits(type).block_size != 0)
    fail("probe_matvec: shape {} is not a matrix of whole {} blocks", to_string(shape), ggml_type_name(type));
  threads = std::max(1, threads);
  const int64_t cols = shape.cols;
  const uint64_t row_bytes = ggml_row_bytes(type, cols), matrix_bytes = row_bytes * static_cast<uint64_t>(shape.rows);
  const uint64_t matrices = std::max<uint64_t>(1, bytes / matrix_bytes);
  SplitMix64 rng(1234);
  std::vector<float> row(static_cast<size_t>(cols)), x(static_cast<size_t>(cols)), y(static_cast<size_t>(shape.rows));
  for (auto& v : row) v = static_cast<float>(rng.uniform() * 2 - 1);
  for (auto& v : x) v = static_cast<float>(rng.uniform() * 2 - 1);
  std::vector<uint8_t> one(row_bytes);
  quant::quantize(type, row.data(), one.data(), 1, cols);
  const int64_t rows_total = static_cast<int64_t>(matrices) * shape.rows;
  std::vector<uint8_t> w(row_bytes * static_cast<uint64_t>(rows_total));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t r = 0; r < rows_total; ++r) std::memcpy(w.data() + r * row_bytes, one.data(), row_bytes);  // first touch
  double best = 0, elapsed = 0;
  for (int rep = 0; rep < 3 || elapsed < seconds; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < matrices; ++i)
      kernels::matmul(type, w.data() + i * matrix_bytes, shape.rows, cols, x.data(), 1, y.data(), threads);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    elapsed += s;
    best = std::max(best, static_cast<double>(w.size()) / s / 1e9);
  }
  return best;
}

nlohmann::json to_json(const Machine& m) {
  nlohmann::json caches = nlohmann::json::array();
  for (const auto& c : m.cpu.caches)
    caches.push_back({{"level", c.level}, {"type", c.type}, {"bytes", c.bytes}, {"shared_by", c.shared_by}});
  nlohmann::json gpus = nlohmann::json::array();
  for (const auto& g : m.gpus)
    gpus.push_back({{"vendor", g.vendor}, {"name", g.name}, {"memory_bytes", g.memory_bytes},
                    {"integrated", g.integrated}, {"source", g.source}});
  nlohmann::json j = {
      {"root", m.root},
      {"cpu",
       {{"arch", m.cpu.arch}, {"vendor", m.cpu.vendor}, {"model", m.cpu.model}, {"features", m.cpu.features},
        {"logical_cpus", m.cpu.logical}, {"physical_cores", m.cpu.physical}, {"packages", m.cpu.packages},
        {"performance_cores", m.cpu.performance_cores}, {"efficiency_cores", m.cpu.efficiency_cores},
        {"compute_cores", m.cpu.compute_cores(m.cgroup_cpus)}, {"caches", caches}, {"numa_nodes", m.cpu.numa_nodes}}},
      {"memory",
       {{"total_bytes", m.memory.total}, {"available_bytes", m.memory.available},
        {"cgroup_limit_bytes", m.memory.cgroup_limit}, {"cgroup_usage_bytes", m.memory.cgroup_usage},
        {"usable_bytes", m.memory.usable()}}},
      {"cgroup_cpus", m.cgroup_cpus},
      {"gpus", gpus},
      {"board", m.board}};
  j["bandwidth_gbs"] = m.bandwidth_gbs ? nlohmann::json(*m.bandwidth_gbs) : nlohmann::json(nullptr);
  if (!m.matvec_gbs.empty()) {
    nlohmann::json mv = nlohmann::json::object();
    for (const auto& [shape, gbs] : m.matvec_gbs) mv[to_string(shape)] = gbs;
    j["matvec_gbs"] = mv;
  }
  return j;
}

}  // namespace lp::hw
