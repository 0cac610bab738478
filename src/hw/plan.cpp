#include "hw/plan.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/error.h"
#include "core/units.h"
#include "engine/gguf_view.h"
#include "kernels/matmul.h"
#include "llama_pajamas/runtime.h"

namespace lp::hw {
namespace detail {
extern const unsigned char kHardwareProfiles[];
extern const size_t kHardwareProfilesSize;
}  // namespace detail

namespace {

bool contains_ci(const std::string& hay, const std::string& needle) {
  auto lower = [](std::string s) {
    std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
  };
  return lower(hay).find(lower(needle)) != std::string::npos;
}

bool matches(const nlohmann::json& match, const Machine& m) {
  for (const auto& [key, want] : match.items()) {
    if (key == "arch") {
      if (m.cpu.arch != want.get<std::string>()) return false;
    } else if (key == "cpu_vendor") {
      if (m.cpu.vendor != want.get<std::string>()) return false;
    } else if (key == "features_all") {
      for (const auto& f : want)
        if (!m.cpu.has(f.get<std::string>())) return false;
    } else if (key == "hybrid") {
      if ((m.cpu.efficiency_cores > 0) != want.get<bool>()) return false;
    } else if (key == "board_contains") {
      if (!contains_ci(m.board, want.get<std::string>())) return false;
    } else if (key == "discrete_gpu_vendor") {
      if (std::none_of(m.gpus.begin(), m.gpus.end(),
                       [&](const Gpu& g) { return !g.integrated && g.vendor == want.get<std::string>(); }))
        return false;
    } else {
      fail("hardware_profiles.json: unknown match key '{}'", key);
    }
  }
  return true;
}

// Per-layer arrays (gemma4's feed_forward_length / head_count_kv) give their largest value.
int64_t get_int(const engine::GgufView& v, const std::string& key, int64_t def) {
  if (const auto* a = v.find(key); a && a->is_array()) {
    const auto values = a->as_i64_array(key);
    return values.empty() ? def : *std::max_element(values.begin(), values.end());
  }
  return v.get_int(key).value_or(def);
}

}  // namespace

const std::vector<Profile>& profiles() {
  static const std::vector<Profile> all = [] {
    const std::string text(reinterpret_cast<const char*>(detail::kHardwareProfiles), detail::kHardwareProfilesSize);
    const nlohmann::json j = nlohmann::json::parse(text);
    std::vector<Profile> out;
    for (const auto& p : j.at("profiles")) {
      Profile pr;
      pr.id = p.at("id").get<std::string>();
      pr.name = p.at("name").get<std::string>();
      pr.why = p.at("why").get<std::string>();
      pr.match = p.at("match");
      pr.settings = p.at("settings");
      pr.assumed_bandwidth_gbs = p.at("assumed").at("bandwidth_gbs").get<double>();
      pr.gflops_per_core = p.at("assumed").at("gflops_per_core").get<double>();
      pr.decode_efficiency = p.at("assumed").value("decode_efficiency", 0.75);
      out.push_back(std::move(pr));
    }
    if (out.empty() || !out.back().match.empty()) fail("hardware_profiles.json: the last profile must match everything");
    return out;
  }();
  return all;
}

const Profile& match_profile(const Machine& m) {
  for (const auto& p : profiles())
    if (matches(p.match, m)) return p;
  return profiles().back();
}

ModelFacts model_facts(const std::string& model) {
  const std::string path = resolve_model_path(model);
  const std::unique_ptr<engine::GgufView> view = engine::open_model_view(path);
  ModelFacts f;
  f.path = path;
  f.architecture = view->get_string("general.architecture").value_or("");
  if (f.architecture.empty()) fail("{}: missing metadata key 'general.architecture'", path);
  const std::string a = f.architecture + ".";
  f.n_layer = static_cast<int>(get_int(*view, a + "block_count", 0));
  f.n_embd = static_cast<int>(get_int(*view, a + "embedding_length", 0));
  f.n_head = static_cast<int>(get_int(*view, a + "attention.head_count", 0));
  f.n_head_kv = static_cast<int>(get_int(*view, a + "attention.head_count_kv", f.n_head));
  f.head_dim = static_cast<int>(get_int(*view, a + "attention.key_length", f.n_head > 0 ? f.n_embd / f.n_head : 0));
  f.n_ff = static_cast<int>(get_int(*view, a + "feed_forward_length", 0));
  f.n_expert = static_cast<int>(get_int(*view, a + "expert_count", 0));
  f.n_expert_used = static_cast<int>(get_int(*view, a + "expert_used_count", 0));
  f.n_ff_expert = static_cast<int>(get_int(*view, a + "expert_feed_forward_length", 0));
  f.n_ctx_train = get_int(*view, a + "context_length", 0);
  if (const auto* toks = view->get_strings("tokenizer.ggml.tokens")) f.n_vocab = static_cast<int>(toks->size());
  if (f.n_layer <= 0 || f.n_embd <= 0 || f.n_head <= 0)
    fail("{}: missing or zero '{}block_count' / 'embedding_length' / 'attention.head_count'", path, a);
  uint64_t routed = 0;
  for (const auto& t : view->tensors()) {
    f.weight_bytes += t.nbytes;
    uint64_t elements = 1;
    for (int d = 0; d < 4; ++d) elements *= static_cast<uint64_t>(std::max<int64_t>(1, t.ne[d]));
    const bool expert = t.name.find("_exps.") != std::string::npos;
    const bool embedding = t.name.rfind("token_embd.", 0) == 0;  // read one row per token, not the whole table
    if (t.name.rfind("per_layer_token_embd.", 0) == 0) {  // gemma4's per-layer table: a lookup too, not read per token
      f.weight_bytes += t.nbytes;
      continue;
    }
    if (expert) routed += t.nbytes;
    if (f.n_vocab == 0 && embedding) f.n_vocab = static_cast<int>(t.ne[1]);
    if (embedding && view->tensor("output.weight") != nullptr) continue;
    const double share = expert && f.n_expert > 0 ? double(f.n_expert_used) / f.n_expert : 1.0;
    if (t.n_dims >= 2) f.active_params += static_cast<uint64_t>(double(elements) * share);
    const auto active = static_cast<uint64_t>(double(t.nbytes) * share);
    if (t.n_dims >= 2 && !t.mlx && kernels::matmul_supported(t.type))
      f.active_bytes_by_shape[{t.type, t.ne[1], t.ne[0]}] += active;  // 3-D experts: one expert's matrix
    else
      f.active_other_bytes += active;
  }
  const double share = f.n_expert > 0 ? double(f.n_expert_used) / f.n_expert : 1.0;
  f.active_weight_bytes = f.weight_bytes - routed + static_cast<uint64_t>(double(routed) * share);
  if (const auto* emb = view->tensor("token_embd.weight"); emb && view->tensor("output.weight"))
    f.active_weight_bytes -= emb->nbytes;  // untied: the embedding table is looked up, not streamed
  return f;
}

const std::vector<std::string>& cache_types() {
  static const std::vector<std::string> t = {"f32", "f16", "bf16", "q8_0", "q4_0"};
  return t;
}

double cache_type_bytes(const std::string& type) {
  if (type == "f32") return 4.0;
  if (type == "f16" || type == "bf16") return 2.0;
  if (type == "q8_0") return 34.0 / 32.0;  // ggml block: an f16 scale and 32 int8
  if (type == "q4_0") return 18.0 / 32.0;  // an f16 scale and 32 4-bit values
  fail("--cache-type: '{}' is not one of f32, f16, bf16, q8_0, q4_0", type);
}

std::string cache_types_name(const std::string& k, const std::string& v) { return k == v ? k : k + "/" + v; }

MemoryPlan plan_memory(const ModelFacts& f, int ctx, const std::string& cache_type, int batch, int parallel) {
  return plan_memory(f, ctx, cache_type, cache_type, batch, parallel);
}

MemoryPlan plan_memory(const ModelFacts& f, int ctx, const std::string& k_type, const std::string& v_type, int batch,
                       int parallel) {
  MemoryPlan p;
  p.ctx = ctx;
  p.parallel = std::max(1, parallel);
  p.batch = std::max(1, std::min(batch, ctx));
  p.cache_type_k = k_type;
  p.cache_type_v = v_type;
  p.cache_type = cache_types_name(k_type, v_type);
  p.weights = f.weight_bytes;
  // engine/kv_cache: every layer keeps n_head_kv * head_dim values of K and of V per position of the context, each
  // in its own type.
  const double cells = double(f.n_layer) * double(ctx) * p.parallel * f.n_head_kv * f.head_dim;
  p.kv_k = static_cast<uint64_t>(cells * cache_type_bytes(k_type));
  p.kv_v = static_cast<uint64_t>(cells * cache_type_bytes(v_type));
  p.kv_cache = p.kv_k + p.kv_v;
  // engine/forward.cpp's scratch for one batch of B tokens (floats), the last token's logits, the attention
  // scores of one row, and the MoE buffers.
  const double B = p.batch;
  const int nf = std::max(f.n_ff, f.n_ff_expert * std::max(1, f.n_expert_used));
  const double floats = B * (2.0 * f.n_embd + std::max(f.n_embd, nf) + 2.0 * f.n_head * f.head_dim +
                             2.0 * f.n_head_kv * f.head_dim + 2.0 * nf) +
                        f.n_vocab + std::max(2.0, double(f.n_head) / std::max(1, f.n_head_kv)) * ctx +
                        (f.n_expert > 0 ? B * (f.n_expert + 3.0 * f.n_embd) : 0.0);
  p.compute = static_cast<uint64_t>(floats * 4.0 * p.parallel);
  // The process itself: code, libraries and allocator slack (11.5 MiB) and the tokenizer's tables (375 bytes per
  // vocabulary entry), fitted to `bench`'s peak RSS of tiny-qwen3 (4,096 tokens) and the Qwen3-0.6B shape (151,936)
  // at ctx 1024 (docs/HARDWARE.md, "How good is the plan").
  p.runtime = (23ull << 19) + static_cast<uint64_t>(f.n_vocab) * 375;
  return p;
}

const Profile* find_profile(const std::string& id) {
  for (const auto& p : profiles())
    if (p.id == id) return &p;
  return nullptr;
}

Recommendation recommend(const Machine& m, const ModelFacts& f, const Request& req, const Profile* forced) {
  Recommendation r;
  r.profile = forced ? forced : &match_profile(m);
  const auto& s = r.profile->settings;
  r.backend = s.value("backend", "cpu");
  const int cores = m.cpu.compute_cores(m.cgroup_cpus);
  r.threads = req.threads > 0 ? req.threads : cores;
  if (req.threads <= 0)
    r.notes.push_back(fmt::format("threads {}: {}", r.threads,
                                  m.cpu.efficiency_cores > 0 ? "the performance cores (E-cores slow down every barrier)"
                                  : m.cgroup_cpus > 0        ? "physical cores, capped by the cgroup's CPU quota"
                                                             : "physical cores (SMT siblings share the FPU and bandwidth)"));
  r.batch = req.batch > 0 ? req.batch : s.value("batch", 512);
  r.ubatch = s.value("ubatch", r.batch);
  r.parallel = req.parallel > 0 ? req.parallel : s.value("parallel", 1);
  const int profile_ctx = s.value("ctx", 4096);
  const int train_ctx = f.n_ctx_train > 0 ? static_cast<int>(std::min<int64_t>(f.n_ctx_train, 1 << 30)) : profile_ctx;
  r.ctx = req.ctx > 0 ? req.ctx : std::min(profile_ctx, train_ctx);
  if (req.ctx <= 0)
    r.notes.push_back(fmt::format("ctx {}: the profile's default{}", r.ctx, r.ctx < profile_ctx ? ", capped by the model's training context" : ""));
  else if (f.n_ctx_train > 0 && req.ctx > f.n_ctx_train)
    r.notes.push_back(fmt::format("ctx {} is beyond the model's training context ({})", req.ctx, f.n_ctx_train));
  const std::string both = !req.cache_type.empty() ? req.cache_type : s.value("cache_type", "f16");
  r.cache_type_k = !req.cache_type_k.empty() ? req.cache_type_k : both;
  r.cache_type_v = !req.cache_type_v.empty() ? req.cache_type_v : both;
  r.cache_type = cache_types_name(r.cache_type_k, r.cache_type_v);
  r.usable_memory = m.memory.usable();
  r.memory = plan_memory(f, r.ctx, r.cache_type_k, r.cache_type_v, r.batch, r.parallel);
  r.fits = r.memory.total() <= r.usable_memory;
  // Speed model (docs/HARDWARE.md, "Speed model"). Decode reads every active weight once per token and the K and V
  // of the `depth` positions already in the context; prefill is compute-bound.
  r.bandwidth_measured = m.bandwidth_gbs.has_value();
  r.bandwidth_gbs = m.bandwidth_gbs.value_or(r.profile->assumed_bandwidth_gbs);
  r.decode_depth = std::clamp(req.depth >= 0 ? req.depth : r.ctx / 2, 0, r.ctx);
  const double kv_read = double(r.memory.kv_cache) / r.parallel * r.decode_depth / std::max(1, r.ctx);
  double weight_seconds = 0;  // per token
  bool probed = !f.active_bytes_by_shape.empty() && r.bandwidth_measured;
  for (const auto& [shape, bytes] : f.active_bytes_by_shape) probed = probed && m.matvec_gbs.count(shape) > 0;
  if (probed) {
    // Measured: each matrix shape's bytes at the rate our kernel decodes that shape on this machine (dequantization,
    // dot products, activation quantization and thread fork/join included), the rest (norms, MLX matrices) and the
    // KV rows at the measured read bandwidth.
    for (const auto& [shape, bytes] : f.active_bytes_by_shape) weight_seconds += double(bytes) / (m.matvec_gbs.at(shape) * 1e9);
    weight_seconds += double(f.active_other_bytes) / (r.bandwidth_gbs * 1e9);
    r.decode_model = "matvec probe";
  } else {
    // A guess: the profile's share of the (measured or assumed) read bandwidth that decode achieves.
    weight_seconds = double(f.active_weight_bytes) / (r.bandwidth_gbs * 1e9 * r.profile->decode_efficiency);
    r.decode_model = "bandwidth x efficiency";
  }
  const double kv_seconds = kv_read / (r.bandwidth_gbs * 1e9);
  r.expected_decode_tps = 1.0 / std::max(1e-12, weight_seconds + kv_seconds);
  r.expected_prefill_tps = r.profile->gflops_per_core * 1e9 * std::min(r.threads, cores) /
                           std::max(1.0, 2.0 * double(f.active_params));
  for (const auto& g : m.gpus)
    if (!g.integrated && g.memory_bytes > 0 && f.n_layer > 0) {
      const double per_layer = double(f.weight_bytes) / f.n_layer;
      const double room = double(g.memory_bytes) * 0.9 - double(r.memory.kv_cache) - double(r.memory.compute);
      r.llama_cpp_gpu_layers = std::clamp(static_cast<int>(room / per_layer), 0, f.n_layer + 1);
      r.notes.push_back(fmt::format("{} ({}): our runtime is CPU-only; llama.cpp with a GPU backend could offload {} of {} "
                                    "layers (-ngl {})", g.name, format_bytes(g.memory_bytes), std::min(r.llama_cpp_gpu_layers, f.n_layer),
                                    f.n_layer, r.llama_cpp_gpu_layers));
      break;
    }
  if (!r.fits) {
    // What would fit, each a set of flags that runs: the asked KV types, then each smaller KV type (for K and V
    // both; bf16 is no smaller than f16), each at the largest context and slot count that fits.
    std::vector<std::pair<std::string, std::string>> kinds = {{r.cache_type_k, r.cache_type_v}};
    const double asked = cache_type_bytes(r.cache_type_k) + cache_type_bytes(r.cache_type_v);
    for (const std::string& kv : cache_types())
      if (2 * cache_type_bytes(kv) < asked && kv != "bf16") kinds.emplace_back(kv, kv);
    for (const auto& [kt, vt] : kinds) {
      bool found = false;
      for (int ctx = r.ctx; ctx >= 256 && !found; ctx /= 2)
        for (int par = r.parallel; par >= 1 && !found; par /= 2) {
          const MemoryPlan p = plan_memory(f, ctx, kt, vt, r.batch, par);
          if (p.total() > r.usable_memory) continue;
          std::string flags = kt == vt ? fmt::format("--ctx {} --cache-type {}", ctx, kt)
                                       : fmt::format("--ctx {} --cache-type-k {} --cache-type-v {}", ctx, kt, vt);
          if (r.parallel > 1) flags += fmt::format(" --parallel {}", par);
          r.downgrades.push_back(fmt::format("{}  ({} in all)", flags, format_bytes(p.total())));
          found = true;
        }
    }
    if (r.downgrades.empty() && r.memory.weights > r.usable_memory)
      r.notes.push_back("the weights alone exceed the usable memory: pick a smaller artifact (a lower --precision)");
  }
  return r;
}

nlohmann::json to_json(const MemoryPlan& p) {
  return {{"ctx", p.ctx},         {"parallel", p.parallel}, {"batch", p.batch},     {"cache_type", p.cache_type},
          {"cache_type_k", p.cache_type_k}, {"cache_type_v", p.cache_type_v}, {"kv_k_bytes", p.kv_k}, {"kv_v_bytes", p.kv_v},
          {"weights_bytes", p.weights}, {"kv_cache_bytes", p.kv_cache}, {"compute_bytes", p.compute},
          {"runtime_bytes", p.runtime}, {"total_bytes", p.total()}};
}

nlohmann::json to_json(const Recommendation& r) {
  return {{"profile", r.profile ? r.profile->id : ""},
          {"profile_reason", r.profile ? r.profile->why : ""},
          {"backend", r.backend},
          {"threads", r.threads},
          {"batch", r.batch},
          {"ubatch", r.ubatch},
          {"ctx", r.ctx},
          {"parallel", r.parallel},
          {"cache_type", r.cache_type},
          {"cache_type_k", r.cache_type_k},
          {"cache_type_v", r.cache_type_v},
          {"memory", to_json(r.memory)},
          {"usable_memory_bytes", r.usable_memory},
          {"fits", r.fits},
          {"bandwidth_gbs", r.bandwidth_gbs},
          {"bandwidth_measured", r.bandwidth_measured},
          {"expected_decode_tokens_per_second", r.expected_decode_tps},
          {"expected_decode_depth", r.decode_depth},
          {"decode_model", r.decode_model},
          {"expected_prefill_tokens_per_second", r.expected_prefill_tps},
          {"llama_cpp_gpu_layers", r.llama_cpp_gpu_layers},
          {"notes", r.notes},
          {"downgrades", r.downgrades}};
}

}  // namespace lp::hw
