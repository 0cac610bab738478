// The runtime's configuration, planned for a machine: hardware profiles (data/hardware_profiles.json, embedded), the
// memory a model needs at a context and KV-cache type, and the recommended settings with their expected speed.
// `llama-pajamas-run config` prints it; generate/chat/serve/bench use it when flags are absent and refuse, before
// loading, a configuration that does not fit (docs/HARDWARE.md).
#pragma once
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "hw/machine.h"

namespace lp::hw {

// A hardware class and its presets, from hardware_profiles.json.
struct Profile {
  std::string id, name, why;
  nlohmann::json match;          // conditions, all of which must hold (see docs/HARDWARE.md)
  nlohmann::json settings;       // backend, threads, batch, ubatch, ctx, cache_type, parallel
  double assumed_bandwidth_gbs = 0;   // used only when nothing was measured
  double gflops_per_core = 0;         // prefill compute model (quantized matmul, per physical core)
  double decode_efficiency = 0.75;    // share of the read bandwidth decode achieves
};

const std::vector<Profile>& profiles();  // parsed once from the embedded JSON
const Profile& match_profile(const Machine& m);  // the first profile whose conditions hold (the last one is generic)

// What the plan needs to know of a model, read without loading it (GGUF header, or config.json + file sizes).
struct ModelFacts {
  std::string path, architecture;
  uint64_t weight_bytes = 0;         // bytes the engine keeps resident for the weights
  uint64_t active_weight_bytes = 0;  // read per decoded token (MoE: shared tensors + the routed share of experts)
  int n_layer = 0, n_embd = 0, n_head = 0, n_head_kv = 0, head_dim = 0, n_ff = 0, n_vocab = 0;
  int n_expert = 0, n_expert_used = 0, n_ff_expert = 0;
  int64_t n_ctx_train = 0;
  uint64_t active_params = 0;        // multiply-adds per token (2x for FLOPs)
  // active_weight_bytes of the matrices by type and shape (what probe_matvec replays); matrices the kernels' probe
  // cannot stand for (MLX affine) and 1-D tensors are in active_other_bytes.
  std::map<MatrixShape, uint64_t> active_bytes_by_shape;
  uint64_t active_other_bytes = 0;
};
// `model` as Runtime::open takes it (GGUF, manifest folder, HF or MLX folder). Throws lp::Error naming the path.
ModelFacts model_facts(const std::string& model);

// Bytes per element of a KV-cache type the engine supports (f32 4, f16 and bf16 2, q8_0 34/32, q4_0 18/32); throws
// lp::Error otherwise.
double cache_type_bytes(const std::string& type);
const std::vector<std::string>& cache_types();  // the ones the engine runs, largest first
// "f16" when K and V have the same type, "q8_0/q4_0" (K/V) when not.
std::string cache_types_name(const std::string& k, const std::string& v);

struct MemoryPlan {
  int ctx = 0, parallel = 1, batch = 0;
  std::string cache_type;                  // cache_types_name(K, V)
  std::string cache_type_k, cache_type_v;
  uint64_t weights = 0, kv_cache = 0, compute = 0, runtime = 0;
  uint64_t kv_k = 0, kv_v = 0;             // kv_cache = kv_k + kv_v
  uint64_t total() const { return weights + kv_cache + compute + runtime; }
};
// Memory of one Runtime (engine context) at `ctx` tokens of KV for each of `parallel` sequences, K and V of their
// own types (the first form: both of one type).
MemoryPlan plan_memory(const ModelFacts& f, int ctx, const std::string& cache_type, int batch, int parallel = 1);
MemoryPlan plan_memory(const ModelFacts& f, int ctx, const std::string& k_type, const std::string& v_type, int batch,
                       int parallel = 1);

struct Request {            // what the user asked; 0 / "" = let the plan choose
  int ctx = 0, threads = 0, batch = 0, parallel = 0;
  int depth = -1;                          // tokens in the context when decoding (speed estimate); -1: half of ctx
  std::string cache_type;                  // K and V
  std::string cache_type_k, cache_type_v;  // K's / V's own type (win over cache_type)
};

struct Recommendation {
  const Profile* profile = nullptr;
  int threads = 0, batch = 0, ubatch = 0, ctx = 0, parallel = 1;
  std::string cache_type, backend;         // cache_type: cache_types_name(K, V)
  std::string cache_type_k, cache_type_v;
  MemoryPlan memory;
  uint64_t usable_memory = 0;
  bool fits = true;
  double bandwidth_gbs = 0;  bool bandwidth_measured = false;
  double expected_decode_tps = 0, expected_prefill_tps = 0;
  int decode_depth = 0;                // the context filled when decoding, for expected_decode_tps
  std::string decode_model;            // "matvec probe" (measured kernels) or "bandwidth x efficiency" (a guess)
  int llama_cpp_gpu_layers = -1;       // for llama.cpp with a GPU backend (-ngl): layers whose weights fit the GPU
  std::vector<std::string> notes;      // why each setting, and what was not honoured
  std::vector<std::string> downgrades; // when it does not fit: what would (each a runnable set of flags): for each KV
                                       // type smaller than asked, the largest context (and slots) that fits
};
// `forced`: use this profile instead of the matched one (--profile ID).
Recommendation recommend(const Machine& m, const ModelFacts& f, const Request& req, const Profile* forced = nullptr);
const Profile* find_profile(const std::string& id);  // nullptr when no profile has this id

nlohmann::json to_json(const MemoryPlan& p);
nlohmann::json to_json(const Recommendation& r);

}  // namespace lp::hw
