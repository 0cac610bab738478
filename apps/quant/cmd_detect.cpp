// `detect MODEL [--json]`: architecture report of a Hugging Face checkpoint folder or a bare config.json
// (family, attention layout, experts, parameter counts, native quantization, recommended strategy), then the
// command that applies the recommended strategy and whether the model fits this machine's memory at Q4_K_M
// and Q8_0.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "arch/arch.h"
#include "common/command.h"
#include "convert/source_model.h"
#include "core/units.h"
#include "formats/checkpoint.h"
#include "plan/gguf_plan.h"
#include "plan/preset.h"
#include "hub/hub.h"
#include "hw/machine.h"

namespace {

namespace fs = std::filesystem;

// MemAvailable from /proc/meminfo, capped by the cgroup limit (v2 memory.max less memory.current, else v1
// memory.limit_in_bytes less usage) when one is set: what a process started now could use.
struct MemoryLimit {
  uint64_t available = 0, mem_available = 0;
  std::optional<uint64_t> cgroup_left;
  std::string source;
};

MemoryLimit available_memory() {
  const lp::hw::Memory mem = lp::hw::detect().memory;  // docs/HARDWARE.md: the process's own cgroup, v1 or v2
  MemoryLimit m;
  m.mem_available = mem.available;
  m.available = mem.usable();
  m.source = "/proc/meminfo MemAvailable";
  if (mem.cgroup_limit > 0) {
    m.cgroup_left = mem.cgroup_limit > mem.cgroup_usage ? mem.cgroup_limit - mem.cgroup_usage : 0;
    if (*m.cgroup_left < m.mem_available) m.source = "cgroup memory limit";
  }
  return m;
}

struct Fit {
  std::string precision;
  uint64_t weights = 0, kv_cache = 0, needed = 0;
  bool estimated = false;  // from the parameter count (bare config.json), not from the plan
  bool fits = false;
};

constexpr int kFitCtx = 4096;

// Weights from the plan (the GGUF's tensor bytes) when the checkpoint has weights, else params x the preset's
// typical bits per weight; plus an F16 KV cache at kFitCtx tokens; plus 10% for activations and buffers.
Fit fit(const std::string& model, const lp::arch::ModelReport& r, lp::plan::Preset preset, uint64_t available) {
  Fit f;
  f.precision = lp::plan::preset_name(preset);
  try {
    const lp::convert::SourceModel src = lp::convert::open_source_model(model);
    lp::plan::GgufPlanOptions o;
    o.preset = preset;
    f.weights = lp::plan::plan_gguf(src.hp, src.gguf, o).total_bytes;
  } catch (const std::exception&) {
    const double bpw = preset == lp::plan::Preset::Q8_0 ? 8.5 : 4.9;
    f.weights = static_cast<uint64_t>(static_cast<double>(r.params.total) * bpw / 8);
    f.estimated = true;
  }
  const auto& hp = r.hp;
  uint64_t kv_layers = 0;  // recurrent (Gated DeltaNet) layers keep a fixed-size state instead of a KV cache
  for (const auto& l : hp.layers) kv_layers += !l.recurrent;
  f.kv_cache = uint64_t{2} * kv_layers * static_cast<uint64_t>(hp.n_head_kv) *
               static_cast<uint64_t>(hp.head_dim) * 2 * kFitCtx;
  f.needed = static_cast<uint64_t>(static_cast<double>(f.weights + f.kv_cache) * 1.1);
  f.fits = available > 0 && f.needed <= available;
  return f;
}

// The convert command line that applies the recommended strategy (architecture rules are on by default).
std::string recommended_command(const std::string& model, const lp::arch::ModelReport& r) {
  std::string name = fs::path(model).filename().string();
  if (name == "config.json" || name.empty()) name = fs::path(model).parent_path().filename().string();
  std::string cmd = "llama-pajamas-quant convert " + model + " -o " + name + "-q4_k_m --precision q4_k_m";
  if (r.strategy_name == "expert_balanced_calibration") cmd += " --calibration builtin --expert-balanced";
  else cmd += " --calibration builtin";
  return cmd;
}

lp::app::RegisterCommand reg{{
    "detect",
    "Detect the architecture of a Hugging Face checkpoint (folder or config.json) and recommend a strategy",
    [](CLI::App& sub) {
      auto model = std::make_shared<std::string>();
      auto json = std::make_shared<bool>(false);
      sub.add_option("MODEL", *model, "checkpoint folder, or a config.json (parameters then follow from the config)")
          ->required();
      sub.add_flag("--json", *json, "print the report as JSON");
      return [model, json] {
        const std::string local = lp::hub::resolve_model(*model);  // a folder, or a hub repo id through the cache
        const auto report = lp::arch::detect(lp::formats::Checkpoint::open(local));
        const MemoryLimit mem = available_memory();
        const std::string command = recommended_command(*model, report);
        const Fit fits[] = {fit(local, report, lp::plan::Preset::Q4_K_M, mem.available),
                            fit(local, report, lp::plan::Preset::Q8_0, mem.available)};
        if (*json) {
          nlohmann::json j = lp::arch::to_json(report);
          j["recommended_command"] = command;
          nlohmann::json m = {{"available_bytes", mem.available}, {"mem_available_bytes", mem.mem_available},
                              {"cgroup_left_bytes", mem.cgroup_left ? nlohmann::json(*mem.cgroup_left) : nlohmann::json(nullptr)},
                              {"source", mem.source}, {"kv_cache_ctx", kFitCtx}, {"fits", nlohmann::json::object()}};
          for (const auto& f : fits)
            m["fits"][f.precision] = {{"weights_bytes", f.weights}, {"kv_cache_bytes", f.kv_cache}, {"needed_bytes", f.needed},
                                      {"weights_estimated_from_params", f.estimated}, {"fits", f.fits}};
          j["memory"] = m;
          std::printf("%s\n", j.dump(2).c_str());
          return 0;
        }
        std::fputs(lp::arch::to_text(report).c_str(), stdout);
        std::printf("memory: %s available (%s)\n", lp::format_bytes(mem.available).c_str(), mem.source.c_str());
        for (const auto& f : fits)
          std::printf("  %-7s %s: weights %s%s + KV cache %s (%d tokens, f16) + 10%% = %s\n", f.precision.c_str(),
                      f.fits ? "fits   " : "does not fit", lp::format_bytes(f.weights).c_str(), f.estimated ? " (estimated)" : "",
                      lp::format_bytes(f.kv_cache).c_str(), kFitCtx, lp::format_bytes(f.needed).c_str());
        std::printf("run: %s\n", command.c_str());
        return 0;
      };
    },
}};

}  // namespace
