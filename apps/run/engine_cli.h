// Options shared by the engine subcommands (generate, chat, perplexity, bench, logits, serve).
#pragma once
#include <CLI/CLI.hpp>
#include <memory>
#include <string>
#include <vector>

#include "common/command.h"
#include "core/error.h"
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

  void add_model_options(CLI::App& sub, int default_ctx) {
    runtime.ctx = default_ctx;
    sub.add_option("-m,--model", model, "GGUF file, pipeline output folder (manifest.json), HF safetensors folder or MLX folder")->required();
    sub.add_option("--backend", backend, "backend: auto or cpu (a manifest folder picks the format that fits it)")
        ->check(CLI::IsMember({"auto", "cpu"}))
        ->capture_default_str();
    add_threads(sub, runtime.threads);
    sub.add_option("-c,--ctx,--ctx-size", runtime.ctx, "context length in tokens (0: the model's)")->capture_default_str();
    sub.add_option("--cache-type", runtime.cache_type, "KV cache type: f16, q8_0, f32")->capture_default_str();
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

  Runtime open() {
    if (n_gpu_layers >= 0) note("--n-gpu-layers " + std::to_string(n_gpu_layers) + " ignored: no GPU backend yet, running on the CPU");
    if (seed >= 0) infer.seed = static_cast<uint64_t>(seed);
    runtime.backend = backend == "cpu" ? Backend::Cpu : Backend::Auto;
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
