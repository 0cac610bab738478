// Options shared by the engine subcommands (generate, chat, perplexity, bench, logits, serve).
#pragma once
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <memory>
#include <string>
#include <vector>

#include "common/command.h"
#include "core/error.h"
#include "core/units.h"
#include "hw/machine.h"
#include "hw/plan.h"
#include "llama_pajamas/runtime.h"

namespace lp::app {

struct EngineCli {
  std::string model;
  RuntimeOptions runtime;
  InferenceConfig infer;
  int64_t seed = -1;
  bool json = false;
  std::string backend = "auto";
  int n_gpu_layers = -1;  // llama.cpp's -ngl: accepted for muscle memory, ignored (CPU only)
  std::string profile = "auto";
  bool ctx_from_profile = false;
  int plan_parallel = 1;  // sequences whose KV the memory check counts (serve: its --parallel slots)
  // serve without --parallel: the profile's slot count, fewer (with a note) when that many do not fit; the result
  // is left in plan_parallel.
  bool parallel_from_profile = false;
  CLI::Option *threads_opt = nullptr, *ctx_opt = nullptr, *cache_opt = nullptr, *cache_k_opt = nullptr, *cache_v_opt = nullptr;

  // ctx_from_profile: without --ctx the hardware profile's context is used (generate, chat, serve); commands whose
  // context is part of what they measure (perplexity, bench, logits) keep their own default.
  void add_model_options(CLI::App& sub, int default_ctx, bool ctx_from_profile_ = false) {
    runtime.ctx = default_ctx;
    ctx_from_profile = ctx_from_profile_;
    sub.add_option("-m,--model", model, "GGUF file, pipeline output folder (manifest.json), HF safetensors folder or MLX folder")->required();
    sub.add_option("--backend", backend, "backend: auto or cpu (a manifest folder picks the format that fits it)")
        ->check(CLI::IsMember({"auto", "cpu"}))
        ->capture_default_str();
    threads_opt = add_threads(sub, runtime.threads);
    ctx_opt = sub.add_option("-c,--ctx,--ctx-size", runtime.ctx,
                             ctx_from_profile ? "context length in tokens (0: the model's; default: the hardware profile's)"
                                              : "context length in tokens (0: the model's)")
                  ->capture_default_str();
    const auto kv_types = CLI::IsMember({"f32", "f16", "bf16", "q8_0", "q4_0"});
    cache_opt = sub.add_option("--cache-type", runtime.cache_type,
                               "KV cache type of K and V: f32, f16, bf16, q8_0, q4_0 (default: the hardware profile's)")
                    ->check(kv_types)
                    ->capture_default_str();
    cache_k_opt = sub.add_option("--cache-type-k", runtime.cache_type_k, "KV cache type of K (default: --cache-type)")->check(kv_types);
    cache_v_opt = sub.add_option("--cache-type-v", runtime.cache_type_v, "KV cache type of V (default: --cache-type)")->check(kv_types);
    sub.add_option("--profile", profile,
                   "hardware profile: auto (detect; settings you do not give come from it, and a configuration that "
                   "does not fit the usable memory is refused before loading), none, or a profile id (`hw --json`)")
        ->capture_default_str();
    sub.add_option("-b,--batch,--batch-size", runtime.batch, "prompt tokens per forward pass")->capture_default_str();
    sub.add_option("--n-gpu-layers,--gpu-layers", n_gpu_layers,
                   "llama.cpp's -ngl N: accepted and ignored (CPU backend only; a note says so)");
  }
  void add_sampling_options(CLI::App& sub) {
    auto& s = infer.sampling;
    sub.add_option("-n,--max-tokens,--n-predict", infer.max_tokens, "tokens to generate")->capture_default_str();
    sub.add_option("--temperature,--temp", s.temperature, "sampling temperature (0: greedy)")->capture_default_str();
    sub.add_option("--top-k", s.top_k, "keep the k most likely tokens (0: off)")->capture_default_str();
    sub.add_option("--top-p", s.top_p, "nucleus sampling mass (1: off)")->capture_default_str();
    sub.add_option("--min-p", s.min_p, "drop tokens below min-p x the top probability (0: off)")->capture_default_str();
    sub.add_option("--repeat-penalty", s.repeat_penalty, "repetition penalty (1: off)")->capture_default_str();
    sub.add_option("--repeat-last-n", s.repeat_last_n, "tokens the penalties look back over (-1: all)")->capture_default_str();
    sub.add_option("--presence-penalty", s.presence_penalty, "presence penalty")->capture_default_str();
    sub.add_option("--frequency-penalty", s.frequency_penalty, "frequency penalty")->capture_default_str();
    sub.add_option("-s,--seed", seed, "random seed (-1: random)");
    sub.add_option("--stop", infer.stop, "stop string (repeatable)");
    sub.add_flag("--ignore-eos", infer.ignore_eos, "keep generating past end-of-generation tokens");
  }
  void add_json(CLI::App& sub) { sub.add_flag("--json", json, "machine-readable output"); }

  // The hardware profile's settings for the flags not given, and the memory check (docs/HARDWARE.md). LP_HW_ROOT
  // points detection at a recorded machine snapshot (tests).
  void apply_profile() {
    if (profile == "none") return;
    const char* root = std::getenv("LP_HW_ROOT");
    hw::Machine m = hw::detect(root && *root ? root : "/");
    const hw::ModelFacts f = hw::model_facts(model);
    const bool given_ctx = ctx_opt && ctx_opt->count() > 0, given_threads = threads_opt && threads_opt->count() > 0,
               given_cache = cache_opt && cache_opt->count() > 0, given_k = cache_k_opt && cache_k_opt->count() > 0,
               given_v = cache_v_opt && cache_v_opt->count() > 0;
    hw::Request req;
    req.ctx = given_ctx || !ctx_from_profile ? (runtime.ctx > 0 ? runtime.ctx : static_cast<int>(f.n_ctx_train)) : 0;
    req.threads = given_threads ? runtime.threads : 0;
    req.batch = runtime.batch;
    req.parallel = std::max(1, plan_parallel);  // serve: --parallel slots of --ctx each
    req.cache_type = given_cache ? runtime.cache_type : "";
    req.cache_type_k = given_k ? runtime.cache_type_k : "";
    req.cache_type_v = given_v ? runtime.cache_type_v : "";
    const hw::Profile* forced = nullptr;
    if (profile != "auto" && !(forced = hw::find_profile(profile)))
      fail("--profile: '{}' is not auto, none or a profile id (see `llama-pajamas-run hw --json`)", profile);
    if (parallel_from_profile) req.parallel = 0;  // the profile's
    hw::Recommendation r = hw::recommend(m, f, req, forced);
    if (parallel_from_profile) {
      const int wanted = r.parallel;
      while (!r.fits && r.parallel > 1) {
        req.parallel = r.parallel / 2;
        r = hw::recommend(m, f, req, forced);
      }
      if (r.parallel < wanted)
        note(fmt::format("--parallel {}: the profile's {} slots of ctx {} do not fit the usable memory ({}); give "
                         "--parallel to choose", r.parallel, wanted, r.ctx, format_bytes(r.usable_memory)));
      plan_parallel = r.parallel;
    }
    if (!given_threads) runtime.threads = r.threads;
    if (!given_cache && !given_k) runtime.cache_type_k = r.cache_type_k;
    if (!given_cache && !given_v) runtime.cache_type_v = r.cache_type_v;
    if (ctx_from_profile && !given_ctx) runtime.ctx = r.ctx;
    if (!r.fits) {
      const auto& p = r.memory;
      std::string fits;
      for (const auto& d : r.downgrades) fits += (fits.empty() ? "" : "; or ") + d;
      fail("{}: this configuration needs {} (weights {}, KV cache {} at ctx {} {}, compute {}, runtime {}) but {} is usable here{}; "
           "{}",
           model, format_bytes(p.total()), format_bytes(p.weights), format_bytes(p.kv_cache), p.ctx, p.cache_type,
           format_bytes(p.compute), format_bytes(p.runtime), format_bytes(r.usable_memory),
           m.memory.cgroup_limit ? " (cgroup limit " + format_bytes(m.memory.cgroup_limit) + ")" : std::string(),
           fits.empty() ? "the weights alone do not fit: use a smaller artifact" : "fits: " + fits);
    }
  }

  Runtime open() {
    if (n_gpu_layers >= 0) note("--n-gpu-layers " + std::to_string(n_gpu_layers) + " ignored: no GPU backend yet, running on the CPU");
    if (seed >= 0) infer.seed = static_cast<uint64_t>(seed);
    runtime.backend = backend == "cpu" ? Backend::Cpu : Backend::Auto;
    apply_profile();
    return Runtime::open(model, runtime);
  }
};

// "1,2,3" or "1 2 3" -> ids
inline std::vector<int32_t> parse_token_list(const std::string& s) {
  std::vector<int32_t> out;
  std::string cur;
  for (char c : s + ",") {
    if (c == ',' || c == ' ' || c == '\n') {
      if (!cur.empty()) {
        try {
          out.push_back(static_cast<int32_t>(std::stol(cur)));
        } catch (const std::exception&) {
          fail("--tokens: '{}' is not a token id", cur);
        }
      }
      cur.clear();
    } else {
      cur += c;
    }
  }
  return out;
}

}  // namespace lp::app
