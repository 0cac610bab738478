// `llama-pajamas-quant validate`: the original checkpoint (re-exported losslessly as an F32 GGUF in a temp
// folder, or a GGUF given directly) and every format of a quantized artifact run through our engine on the
// same corpus. Each chunk's reference logits are computed once and compared on the fly with every format,
// so memory stays at the models plus one chunk of logits per model and nothing big is written to disk.
//
// With --save-reference the original's top-k log-probs are also written to a file, which --reference
// reuses instead of running the original (KLD then over top-k + tail mass, see reference_file.h).
//
// Chunking is llama.cpp's llama-perplexity: the corpus is tokenized once without BOS, cut into chunks of
// `ctx` tokens (BOS replaces a chunk's first token when the vocabulary adds BOS), and only the second half
// of each chunk is scored, so every scored token has at least ctx/2 tokens of context.
#pragma once
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval/moe_metrics.h"
#include "eval/thresholds.h"
#include "eval/token_metrics.h"

namespace lp::eval {

struct Metrics {
  bool perplexity = true, kld = true, generation = true;
};
Metrics parse_metrics(const std::string& list);  // "perplexity,kld,generation"; throws naming a bad item

struct ValidateOptions {
  std::string original;    // HF checkpoint folder (bf16/f16/f32 safetensors) or a .gguf used as-is
  std::string quantized;   // artifact folder with manifest.json, or one .gguf
  Metrics metrics;
  std::string corpus;      // empty: the built-in corpus
  int ctx = 512;
  int64_t max_tokens = 0;  // corpus tokens to evaluate (whole chunks); 0: all
  int gen_tokens = 32;     // greedy tokens per generation prompt
  int threads = 0;         // 0: physical cores
  GateOverrides gates;
  std::string work_dir;    // where the reference GGUF is written (default: a temp folder, removed after)
  std::string save_reference;  // write the original's top-k log-probs here (reference_file.h)
  std::string reference_file;  // compare against this saved reference (then --original is optional)
  int reference_top_k = 32;
  bool write_outputs = true;  // manifest.json validation section, validation.json, VALIDATION.md
  bool progress = true;       // a bar on a terminal; plain lines ("validate: chunk 3/8 ...") when stderr is not one
  // Print each format's result line to stdout (flushed) as soon as it is final, so a run that is killed
  // later still leaves what it measured (`convert --validate`).
  bool report_each = false;
};

struct GenerationSample {
  std::string prompt, reference_text, quantized_text;
  int reference_tokens = 0;
  int first_divergence = 0;  // greedy tokens identical to the original's before the first difference
};

struct FormatReport {
  std::string format, precision, path;
  uint64_t size_bytes = 0;
  double bpw = 0;
  std::string status;       // PASS, FAIL, SKIP
  std::string skip_reason;  // why SKIP
  ComparisonSummary stats;
  double ppl_increase = 0;  // fraction
  // Paired standard error of ppl_increase (per-token NLL differences), and whether |ΔPPL| < 2 of them.
  std::optional<double> ppl_increase_error;
  bool ppl_within_noise = false;
  // Greedy generation: mean number of tokens identical to the original's before the first difference
  // (out of gen_tokens), and the share of the original's tokens reproduced before divergence.
  std::optional<double> tokens_to_divergence, identical_prefix;
  std::vector<GenerationSample> samples;
  std::optional<MoeSummary> moe;  // MoE models, when the engine reported routing
  Gate gate;
  std::vector<std::string> failures;  // which gate failed, readable
  double seconds = 0;
};

struct ValidationReport {
  std::string original_path, reference_gguf, reference_file, architecture;
  std::string kld_method;           // "full vocabulary" or "top-k + tail (reference file)"
  std::vector<std::string> notes;   // what was not measured and why
  bool reference_removed = false;  // the reference GGUF was a temporary file, deleted after the run
  bool is_moe = false;
  std::string moe_note;  // why MoE columns are not measured
  double ref_perplexity = 0, ref_perplexity_error = 0, ref_seconds = 0;
  std::string corpus_name, corpus_sha256;
  size_t corpus_bytes = 0, corpus_tokens = 0, scored_tokens = 0;
  int ctx = 0, chunks = 0, threads = 0;
  Metrics metrics;
  std::vector<FormatReport> formats;
  int gen_tokens = 0;
  // Which artifact to ship and by what rule (ship_rule always set; ship_path empty when none qualifies).
  std::string ship_path, ship_name, ship_rule, ship_reason;
  double seconds = 0;
  std::string created;
  bool all_pass() const;
};

ValidationReport validate(const ValidateOptions& options);

// validate(), then write_outputs() when `quantized` is an artifact folder and options.write_outputs is set:
// the call behind `validate` and `convert ... --validate`.
ValidationReport validate_and_record(const ValidateOptions& options);

nlohmann::json to_json(const ValidationReport& r);
std::string render_table(const ValidationReport& r);     // the terminal table
std::string render_markdown(const ValidationReport& r);  // VALIDATION.md
// Writes validation.json and VALIDATION.md next to manifest.json and adds its "validation" section; every
// file is replaced atomically and only after the whole run succeeded.
void write_outputs(const std::string& manifest_path, const ValidationReport& r);

}  // namespace lp::eval
