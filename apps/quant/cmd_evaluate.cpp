// llama-pajamas-quant evaluate --model ARTIFACT_OR_MANIFEST_DIR [--suite builtin|FILE.jsonl] [--categories a,b]
//                              [--limit N] [--method loglik|generate] [--threads N] [--json]
// Exit status: 0 when every row was evaluated, 2 when a row failed (its evaluation.json says why), 1 on errors.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/command.h"
#include "core/error.h"
#include "eval/evaluate.h"

namespace {

struct EvaluateArgs {
  lp::eval::EvaluateOptions o;
  std::string categories;
  bool json = false, quiet = false, no_write = false, no_baseline = false;
};

std::vector<std::string> split_list(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    const size_t end = s.find(',', start);
    std::string item = s.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (!item.empty()) out.push_back(item);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

int run_evaluate(EvaluateArgs a) {
  a.o.categories = split_list(a.categories);
  a.o.write = !a.no_write;
  a.o.baseline = !a.no_baseline;
  a.o.progress = !a.quiet && !a.json;
  const lp::eval::EvaluateRun run = lp::eval::evaluate_and_record(a.o);
  if (a.json) std::printf("%s\n", lp::eval::to_json(run, a.o.model, true).dump(2).c_str());
  else std::printf("%s", lp::eval::render_table(run).c_str());
  return run.any_failed() ? 2 : 0;
}

lp::app::RegisterCommand reg{{"evaluate", "Score artifacts on a question suite: accuracy per category, speed, memory",
                              [](CLI::App& sub) {
                                auto a = std::make_shared<EvaluateArgs>();
                                auto& o = a->o;
                                sub.add_option("--model,-m", o.model,
                                               "An artifact (.gguf, MLX folder, HF checkpoint) or a converted folder (manifest.json: "
                                               "every artifact, plus the original checkpoint as the baseline)")->required();
                                sub.add_option("--suite", o.suite, "builtin, or a JSON Lines question file (docs/EVALUATION.md)")->capture_default_str();
                                sub.add_option("--categories", a->categories,
                                               "Comma list of categories: knowledge, math, reasoning, common_sense, truthfulness, tool_calling (default: all)");
                                sub.add_option("--limit", o.limit, "At most N questions per category (0: all)")->check(CLI::NonNegativeNumber)->capture_default_str();
                                sub.add_option("--method", o.method,
                                               "loglik (multiple choice by log-likelihood, the rest generated) or generate (everything "
                                               "generated from the chat template); auto: generate when the model has a chat template")
                                    ->check(CLI::IsMember({"auto", "loglik", "generate"}))->capture_default_str();
                                sub.add_option("--max-tokens", o.max_tokens, "Tokens generated per question at most")->check(CLI::PositiveNumber)->capture_default_str();
                                sub.add_option("--ctx", o.ctx, "Context length for generated questions")->check(CLI::PositiveNumber)->capture_default_str();
                                sub.add_option("--cache-type", o.cache_type, "KV cache type")
                                    ->check(CLI::IsMember({"f16", "q8_0", "f32"}))->capture_default_str();
                                lp::app::add_threads(sub, o.threads);
                                sub.add_flag("--no-baseline", a->no_baseline, "A converted folder: skip the original checkpoint");
                                sub.add_flag("--no-write", a->no_write, "Write no evaluation.json and leave manifest.json as it is");
                                lp::app::add_quiet(sub, a->quiet);
                                sub.add_flag("--json", a->json, "Machine-readable results (every evaluation.json, with its per-question items)");
                                return [a] { return run_evaluate(*a); };
                              }}};

}  // namespace
