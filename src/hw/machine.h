// What machine are we on: CPU (ISA features that matter to our kernels, cores, caches, NUMA), memory (with the
// container's cgroup limit), GPUs and the board. Everything is read from files under a root folder (`/` on a live
// machine), so recorded snapshots of other machines (tests/data/hw/<machine>/) are detected exactly as a live one.
// docs/HARDWARE.md lists the files read and what each field means.
#pragma once
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/ggml_type.h"

namespace lp::hw {

struct CacheLevel {
  int level = 0;
  std::string type;     // "Data", "Instruction", "Unified"
  uint64_t bytes = 0;
  int shared_by = 1;    // logical CPUs sharing one instance
};

struct Cpu {
  std::string arch;     // "x86_64", "aarch64" (from the cpuinfo format)
  std::string vendor;   // "AMD", "Intel", "ARM", "NVIDIA", "Apple", "Ampere", ...
  std::string model;    // "AMD EPYC", "Neoverse-V1", ...
  // The features our kernels (and llama.cpp's) dispatch on, in one spelling for every OS/kernel version:
  // x86: sse4_2 avx avx2 fma f16c avx512f avx512bw avx512vl avx512_vnni avx512_bf16 avx_vnni amx_tile amx_int8
  // amx_bf16; ARM: neon dotprod fp16 i8mm bf16 sve sve2.
  std::vector<std::string> features;
  int logical = 0;      // online logical CPUs
  int physical = 0;     // distinct cores (SMT siblings counted once)
  int packages = 1;
  int performance_cores = 0, efficiency_cores = 0;  // hybrid CPUs (Intel P/E): physical cores of each kind; 0 otherwise
  std::vector<CacheLevel> caches;
  int numa_nodes = 1;
  bool has(std::string_view feature) const;
  // The cores decode should use: P-cores on a hybrid CPU (E-cores slow every barrier down), else physical cores,
  // capped by the cgroup's CPU quota.
  int compute_cores(double cgroup_cpus) const;
};

struct Memory {
  uint64_t total = 0, available = 0;  // /proc/meminfo MemTotal, MemAvailable
  uint64_t cgroup_limit = 0;          // 0: no limit
  uint64_t cgroup_usage = 0;
  // What a new process can still use: MemAvailable, capped by what the cgroup limit leaves.
  uint64_t usable() const;
};

struct Gpu {
  std::string vendor;        // "nvidia", "amd", "intel"
  std::string name;          // "NVIDIA H100 80GB HBM3", "AMD 0x73bf", ...
  uint64_t memory_bytes = 0; // 0: unknown (shared memory on integrated GPUs)
  bool integrated = false;   // Jetson, iGPUs: memory shared with the CPU
  std::string source;        // which file or API said so
};

// One kind of weight matrix of a model: its storage type and shape (rows = outputs, cols = inputs).
struct MatrixShape {
  GgmlType type = GgmlType::F32;
  int64_t rows = 0, cols = 0;
  auto operator<=>(const MatrixShape&) const = default;
};
std::string to_string(const MatrixShape& s);  // "q4_K 2048x1024"

struct Machine {
  std::string root;          // where it was read from ("/" live)
  Cpu cpu;
  Memory memory;
  std::vector<Gpu> gpus;
  std::string board;         // device-tree model ("NVIDIA Jetson AGX Orin Developer Kit"), "" on PCs
  double cgroup_cpus = 0;    // CPU quota in cores (cpu.max / cfs_quota), 0: none
  std::optional<double> bandwidth_gbs;  // measured (probe_bandwidth), never guessed
  // Measured decode throughput of our own matrix-vector kernel per weight shape (type, rows, cols), in GB/s of
  // weights read (probe_matvec): what a quantized matmul really streams once dequantization, the dot products, the
  // activation's quantization and the threads' fork/join cost their share.
  std::map<MatrixShape, double> matvec_gbs;
};

// Reads the machine under `root`. Missing files leave their fields at defaults; never throws for a missing file.
// On the live root (`/`) it also asks NVML (libnvidia-ml.so.1, when the driver installed it) for GPU memory.
Machine detect(const std::filesystem::path& root = "/");

// Read bandwidth in GB/s: `threads` threads summing a buffer of `bytes` (default 256 MiB, well beyond the last-level
// cache), best of at least 3 passes and about `seconds`. Decode speed is bound by this number.
double probe_bandwidth(int threads, uint64_t bytes = 256ull << 20, double seconds = 0.5);

// Decode throughput of kernels::matmul (one token) for matrices of `shape`: one call per matrix, `threads` threads,
// over consecutive matrices filling `bytes` (one quantized random row repeated; as much as the model holds of that
// shape, so what the caches keep of it is what they keep of the model), best of at least 3 passes and about
// `seconds`; GB/s of weight bytes. Throws lp::Error for a type the kernels do not run.
double probe_matvec(const MatrixShape& shape, int threads, uint64_t bytes = 256ull << 20, double seconds = 0.3);

nlohmann::json to_json(const Machine& m);

// "0-3,8,10-11" -> {0,1,2,3,8,10,11}; malformed parts are ignored.
std::vector<int> parse_cpu_list(std::string_view list);

}  // namespace lp::hw
