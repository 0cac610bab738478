// `make-test-model` (developer command; `generate` is its deprecated old name): writes a synthetic Hugging Face checkpoint of a supported family with seeded
// random weights, for tests and benchmarks. The work lives in src/testgen (see docs/TEST_MODELS.md).
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "common/command.h"
#include "core/units.h"
#include "testgen/generate.h"

namespace {

struct GenerateArgs {
  std::string family, output, preset = "tiny", dtype = "bf16", shard_size;
  uint64_t seed = 0;
  std::optional<int64_t> hidden, layers, ffn, heads, kv_heads, head_dim, experts, experts_per_tok, vocab, window;
  bool tie = false, untie = false, no_rope_scaling = false, json = false, quiet = false;
  float norm_jitter = 0.0f;
};

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : "|") + s;
  return out;
}

int run_generate(const GenerateArgs& a) {
  lp::testgen::GenerateOptions o;
  o.family = a.family;
  o.preset = a.preset;
  o.seed = a.seed;
  o.dtype = lp::testgen::parse_weight_dtype(a.dtype);
  o.overrides = {a.hidden, a.layers, a.ffn, a.heads, a.kv_heads, a.head_dim, a.experts, a.experts_per_tok, a.vocab,
                 a.window};
  if (a.tie) o.tie_embeddings = true;
  if (a.untie) o.tie_embeddings = false;
  if (!a.shard_size.empty()) o.shard_bytes = lp::parse_size(a.shard_size, "--shard-size");
  o.norm_jitter = a.norm_jitter;
  o.rope_scaling = !a.no_rope_scaling;
  o.progress = !a.quiet && !a.json;

  const lp::testgen::GenerateReport r = lp::testgen::generate_checkpoint(o, a.output);
  const auto& s = r.shape;
  if (a.json) {
    nlohmann::json j = {{"output", r.dir.string()},
                        {"family", s.family},
                        {"preset", o.preset},
                        {"seed", o.seed},
                        {"dtype", lp::testgen::dtype_name(o.dtype)},
                        {"hidden_size", s.hidden},
                        {"num_layers", s.layers},
                        {"ffn", s.ffn},
                        {"num_heads", s.heads},
                        {"num_kv_heads", s.kv_heads},
                        {"head_dim", s.head_dim},
                        {"vocab_size", s.vocab},
                        {"num_experts", s.experts},
                        {"num_experts_per_tok", s.experts_per_tok},
                        {"sliding_window", s.sliding_window},
                        {"tied_embeddings", s.tie_embeddings},
                        {"tensors", r.n_tensors},
                        {"params", r.n_params},
                        {"weight_bytes", r.weight_bytes},
                        {"shards", r.n_shards},
                        {"seconds", r.seconds}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    std::printf("wrote %s: %s, %lld layers, hidden %lld, %s params, %zu tensors, %s in %zu shard(s), %.2f s\n",
                r.dir.string().c_str(), s.family.c_str(), static_cast<long long>(s.layers),
                static_cast<long long>(s.hidden), lp::format_count(r.n_params).c_str(), r.n_tensors,
                lp::format_bytes(r.weight_bytes).c_str(), r.n_shards, r.seconds);
  }
  return 0;
}

std::function<int()> setup(CLI::App& sub) {
  auto a = std::make_shared<GenerateArgs>();

  sub.group("Developer");
  sub.add_option("--family", a->family, join(lp::testgen::supported_families()))
      ->required();
  sub.add_option("-o,--output", a->output, "output folder (created or merged into)")
      ->required();
  sub.add_option("--preset", a->preset, join(lp::testgen::supported_presets()))
      ->capture_default_str();
  sub.add_option("--seed", a->seed, "random seed")->capture_default_str();
  sub.add_option("--dtype", a->dtype, "bf16|f16|f32 for float tensors")
      ->capture_default_str();
  sub.add_option("--hidden", a->hidden, "hidden size");
  sub.add_option("--layers", a->layers, "number of layers");
  sub.add_option("--ffn", a->ffn, "FFN width (per expert for MoE)");
  sub.add_option("--heads", a->heads, "attention heads");
  sub.add_option("--kv-heads", a->kv_heads, "key/value heads");
  sub.add_option("--head-dim", a->head_dim, "head dimension");
  sub.add_option("--experts", a->experts, "experts (MoE families)");
  sub.add_option("--experts-per-tok", a->experts_per_tok, "active experts per token");
  sub.add_option("--vocab", a->vocab, "vocabulary size (synthetic tokens pad it)");
  sub.add_option("--sliding-window", a->window, "sliding window (0 = none)");
  auto* tie = sub.add_flag("--tie", a->tie, "tie lm_head to the embeddings");
  sub.add_flag("--untie", a->untie, "separate lm_head.weight")->excludes(tie);
  sub.add_option("--shard-size", a->shard_size, "max bytes per shard, e.g. 500MB");
  sub.add_option("--norm-jitter", a->norm_jitter, "std of noise added to norm weights");
  sub.add_flag("--no-rope-scaling", a->no_rope_scaling,
               "rope_scaling null (llama: no llama3 scaling, gpt-oss: no yarn)");
  sub.add_flag("--json", a->json, "machine-readable summary");
  lp::app::add_quiet(sub, a->quiet);
  return [a] { return run_generate(*a); };
}

const char* kHelp = "Write a synthetic HF checkpoint (seeded random weights) for tests and benchmarks";
lp::app::RegisterCommand reg{{"make-test-model", kHelp, setup}};
lp::app::RegisterCommand reg_old{{"generate", kHelp, setup, false, "make-test-model"}};

}  // namespace
