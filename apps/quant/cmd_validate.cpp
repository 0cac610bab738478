// llama-pajamas-quant validate --original MODEL_DIR --quantized ARTIFACT_DIR [--metrics perplexity,kld,generation]
// Exit status: 0 when every format passes its gates, 2 when one fails, 1 on errors.
#include <cstdio>
#include <filesystem>

#include "common/command.h"
#include "core/error.h"
#include "hub/hub.h"
#include "eval/validate.h"
#include "plan/recipe.h"

namespace {

struct ValidateArgs {
  lp::eval::ValidateOptions o;
  std::string metrics = "perplexity,kld,generation";
  double max_ppl = -1, max_kld = -1, min_expert_corr = -2, min_router_agree = -1;
  std::string recipe;
  bool json = false, quiet = false, no_write = false;
  int chunks = 0;
};

int run_validate(ValidateArgs a) {
  a.o.metrics = lp::eval::parse_metrics(a.metrics);
  if (!a.o.original.empty()) a.o.original = lp::hub::resolve_model(a.o.original);  // a hub repo id
  if (!a.recipe.empty()) {  // the recipe's gates; flags below win
    const lp::plan::Recipe recipe = lp::plan::load_recipe(a.recipe);
    a.o.gates.max_ppl_increase = recipe.max_ppl_increase;
    a.o.gates.max_kld_mean = recipe.max_kld_mean;
  }
  if (a.max_ppl >= 0) a.o.gates.max_ppl_increase = a.max_ppl;
  if (a.max_kld >= 0) a.o.gates.max_kld_mean = a.max_kld;
  if (a.min_expert_corr > -2) a.o.gates.min_expert_correlation = a.min_expert_corr;
  if (a.min_router_agree >= 0) a.o.gates.min_router_agreement = a.min_router_agree;
  if (a.chunks > 0) {
    if (a.o.max_tokens > 0) lp::fail("--chunks and --max-tokens both given: use one");
    a.o.max_tokens = static_cast<int64_t>(a.chunks) * a.o.ctx;
  }
  a.o.progress = !a.quiet && !a.json;
  a.o.write_outputs = !a.no_write;
  const lp::eval::ValidationReport r = lp::eval::validate_and_record(a.o);
  const bool wrote = a.o.write_outputs && std::filesystem::is_directory(a.o.quantized);
  if (a.json) {
    std::printf("%s\n", lp::eval::to_json(r).dump(2).c_str());
  } else {
    std::printf("%s", lp::eval::render_table(r).c_str());
    if (wrote) std::printf("results: %s/manifest.json (validation), validation.json, VALIDATION.md\n", a.o.quantized.c_str());
    std::printf("%.1f s\n", r.seconds);
  }
  return r.all_pass() ? 0 : 2;
}

lp::app::RegisterCommand reg{{"validate", "Measure quantization quality: perplexity, KL divergence, generation vs the original",
                              [](CLI::App& sub) {
                                auto a = std::make_shared<ValidateArgs>();
                                auto& o = a->o;
                                sub.add_option("--original", o.original, "Original checkpoint folder (bf16/f16/f32 safetensors) or a .gguf (required unless --reference)");
                                sub.add_option("--quantized", o.quantized, "Artifact folder (manifest.json) or one .gguf")->required();
                                sub.add_option("--metrics", a->metrics, "perplexity, kld, generation (comma-separated)")->capture_default_str();
                                sub.add_option("--corpus", o.corpus, "Text file to evaluate on (default: the built-in corpus)")->check(CLI::ExistingFile);
                                sub.add_option("--ctx,-c", o.ctx, "Chunk length in tokens (second half of each chunk is scored)")->capture_default_str();
                                sub.add_option("--chunks", a->chunks, "Chunks of --ctx tokens to evaluate (0: all)")->capture_default_str();
                                lp::app::add_deprecated_alias(sub, "--max-tokens", o.max_tokens, "--chunks (corpus tokens = chunks x --ctx)");
                                sub.add_option("--gen-tokens", o.gen_tokens, "Greedy tokens per generation prompt")->capture_default_str();
                                sub.add_option("--max-ppl-increase", a->max_ppl, "Gate: largest perplexity increase, fraction (default per precision)");
                                sub.add_option("--max-kld", a->max_kld, "Gate: largest mean KL divergence (default per precision)");
                                sub.add_option("--min-expert-correlation", a->min_expert_corr, "MoE gate: expert activation correlation must exceed this (default 0.95)")
                                    ->check(CLI::Range(-1.0, 1.0));
                                sub.add_option("--min-router-agreement", a->min_router_agree, "MoE gate: router top-k agreement, fraction, must exceed this (default 0.95)")
                                    ->check(CLI::Range(0.0, 1.0));
                                sub.add_option("--recipe", a->recipe, "Recipe file whose validation: section sets the gates");
                                sub.add_option("--save-reference", o.save_reference, "Also save the original's top-k log-probs to this file for later --reference runs");
                                sub.add_option("--reference", o.reference_file, "Compare against a --save-reference file instead of running the original (KLD over top-k + tail)")
                                    ->check(CLI::ExistingFile);
                                sub.add_option("--reference-top-k", o.reference_top_k, "Tokens per position kept by --save-reference")->capture_default_str();
                                sub.add_option("--work-dir", o.work_dir, "Keep the F32 reference GGUF here (default: temp folder, removed)");
                                lp::app::add_threads(sub, o.threads);
                                sub.add_flag("--no-write", a->no_write, "Do not update manifest.json / validation.json / VALIDATION.md");
                                lp::app::add_quiet(sub, a->quiet);
                                sub.add_flag("--json", a->json, "Machine-readable results");
                                return [a] { return run_validate(*a); };
                              }}};

}  // namespace
