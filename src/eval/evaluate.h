// `llama-pajamas-quant evaluate` (issue #14, docs/EVALUATION.md "Running evaluate"): a question suite run on one
// artifact, or on every artifact of a converted folder plus the original checkpoint as the baseline row; results
// go to evaluation.json beside each artifact (schema "llama-pajamas/evaluation" version 1) and into manifest.json.
//
// Scoring: multiple_choice under --method loglik as lm-evaluation-harness does (context = the question as written,
// continuation tokens = encode(question + choice)[len(encode(question)):], acc = highest summed log-likelihood,
// acc_norm = highest log-likelihood per UTF-8 byte of the choice); the choices of a question share one evaluation of
// the question (the prefix is copied into one KV sequence per choice and every continuation runs in one forward
// pass). Everything else, and multiple_choice under --method generate, is generated greedily from the model's chat
// template and parsed (eval/scoring.h; tool calls with text/tool_calls.h, the server's parser).
#pragma once
#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "eval/suite.h"

namespace lp {
class Runtime;
}

namespace lp::eval {

struct EvaluateOptions {
  std::string model;              // an artifact (.gguf, MLX folder, HF checkpoint) or a converted folder (manifest.json)
  std::string suite = "builtin";  // "builtin" or a .jsonl file
  std::vector<std::string> categories;  // empty: all six
  int limit = 0;                  // at most this many questions per category (0: all)
  std::string method = "auto";    // "auto" (generate when the model has a chat template, else loglik), "loglik", "generate"
  int threads = 0;
  int max_tokens = 128;           // generated tokens per question
  int ctx = 2048;                 // context of the generation sequence
  std::string cache_type = "f16"; // KV cache of K and V: "f32", "f16", "bf16", "q8_0", "q4_0"
  bool baseline = true;           // a converted folder: also the original checkpoint its manifest names
  bool write = true;              // evaluation.json files and manifest.json
  bool progress = true;
};

// One row to evaluate.
struct EvaluationTarget {
  std::string format;     // "gguf" | "mlx" | "hf"
  std::string precision;  // "Q4_K_M", "4bit", "BF16" ...
  std::string path;       // as recorded: relative to the converted folder (or the file name of a lone artifact)
  std::string full_path;  // what Runtime::open gets
  uint64_t size_bytes = 0;
  std::optional<double> bpw;
  std::string output;     // where its evaluation.json goes
  bool baseline = false;
};

// What `model` names: a converted folder's artifacts (manifest order) then its baseline, or one artifact.
std::vector<EvaluationTarget> evaluation_targets(const EvaluateOptions& o, std::string* manifest_dir = nullptr);

// One target's evaluation.json object. Never throws for the artifact itself: a model the runtime cannot open
// (or that fails mid-run) gives an object whose "failed" names the reason.
nlohmann::ordered_json evaluate_target(const EvaluationTarget& t, const Suite& suite, const EvaluateOptions& o);

// Multiple-choice scoring by log-likelihood on an opened runtime: per item, the summed log-probability of each
// choice's continuation tokens. Exposed for tests.
struct LoglikResult {
  std::vector<double> logliks;
  std::vector<int> continuation_tokens;
  std::vector<size_t> continuation_bytes;
  int context_tokens = 0;
};
struct LoglikStats {
  int64_t tokens = 0;
  double seconds = 0;
};
std::vector<LoglikResult> loglik_choices(Runtime& rt, const std::vector<const SuiteItem*>& items, int threads,
                                         LoglikStats* stats = nullptr, const std::function<void()>& on_item = {});

struct EvaluateRun {
  std::string manifest_dir;                    // "" for a lone artifact
  std::vector<nlohmann::ordered_json> results; // one evaluation.json object per target
  std::vector<std::string> files;              // where each was written ("" with write = false)
  bool any_failed() const;
};
// Evaluates every target, writes evaluation.json files (atomically) and records them in manifest.json.
EvaluateRun evaluate_and_record(const EvaluateOptions& o);

// --json: {"model", "manifest_dir", "evaluations": [{"file", ...evaluation.json}]}; without items: each
// evaluation's per-question "items" left out (convert --evaluate prints the summary).
nlohmann::ordered_json to_json(const EvaluateRun& run, const std::string& model, bool items);
// One block per row: format, precision, size, accuracy with its interval, speed; per-category accuracy; the file.
std::string render_table(const EvaluateRun& run);

}  // namespace lp::eval
