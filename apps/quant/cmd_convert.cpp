// llama-pajamas-quant convert MODEL --output DIR --formats gguf,mlx --precision q4_k_m:4bit
//                                   --precision auto --target-bpw 4.5 --calibration DIR
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/command.h"
#include "convert/convert.h"
#include "convert/source_model.h"
#include "core/error.h"
#include "core/units.h"
#include "hub/hub.h"
#include "eval/evaluate.h"
#include "eval/validate.h"
#include "plan/recipe.h"
#include "precision_flags.h"

namespace {

struct ConvertArgs {
  std::string model, output, formats;  // formats "": follows --precision
  lp::plan::PrecisionFlags precision;
  lp::app::AutoFlags auto_flags;
  bool mixed = false, no_mixed = false, json = false, quiet = false, validate = false, force = false;
  std::string v_corpus;  // --validate: corpus, chunk length, token / chunk limits
  int v_ctx = 0, v_chunks = 0;
  int64_t v_max_tokens = 0;
  int threads = 0;
  bool evaluate = false;  // --evaluate: the question suite on every artifact (and the original as the baseline)
  int eval_limit = 0;
  std::string eval_suite = "builtin", eval_method = "auto";
};

// 3028800 -> "3,028,800"
std::string grouped(uint64_t v) {
  std::string digits = std::to_string(v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void parse_formats(const std::string& f, lp::convert::ConvertOptions& o) {
  o.gguf = o.mlx = false;
  for (size_t start = 0; start <= f.size();) {
    size_t end = f.find(',', start);
    std::string item = f.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (item == "gguf") o.gguf = true;
    else if (item == "mlx") o.mlx = true;
    else lp::fail("--formats: unknown format '{}' (use gguf, mlx or gguf,mlx)", item);
    if (end == std::string::npos) break;
    start = end + 1;
  }
}

int run_convert(ConvertArgs a) {
  using namespace lp;
  a.model = hub::resolve_model(a.model);  // a hub repo id: its cached (or downloaded) snapshot
  convert::ConvertOptions o;
  o.model = a.model;
  o.output = a.output;
  // --formats, when given, is checked against --precision (a conflict is an error naming it); when left out it
  // follows --precision: every item's format comes from its name (q4_k_m: GGUF, 4bit: MLX).
  const bool formats_given = !a.formats.empty();
  if (formats_given) parse_formats(a.formats, o);
  const plan::PrecisionChoice choice = plan::resolve_precision_flags(a.precision, formats_given ? o.gguf : true,
                                                                     formats_given ? o.mlx : true);
  std::string precision = choice.precision;
  if (precision.empty()) {
    if (!formats_given) o.gguf = true, o.mlx = false;
    precision = a.auto_flags.wants_auto() ? (o.mlx ? (o.gguf ? "auto:4bit" : "auto") : "auto")
                : o.gguf && o.mlx ? "q4_k_m:4bit" : o.gguf ? "q4_k_m" : "4bit";
  }
  if (formats_given) {
    o.precision = plan::parse_precision(precision, o.gguf, o.mlx);
  } else {
    o.precision = plan::parse_precision(precision);
    o.gguf = !o.precision.gguf.empty();
    o.mlx = !o.precision.mlx.empty();
  }
  o.force = a.force;
  if (!a.validate && (!a.v_corpus.empty() || a.v_ctx > 0 || a.v_max_tokens > 0 || a.v_chunks > 0))
    fail("--corpus / --ctx / --max-tokens / --chunks set how --validate measures; add --validate");
  if (a.v_chunks > 0 && a.v_max_tokens > 0) fail("--chunks and --max-tokens both given: use one");
  if (!a.evaluate && (a.eval_limit > 0 || a.eval_suite != "builtin" || a.eval_method != "auto"))
    fail("--eval-limit / --eval-suite / --eval-method set how --evaluate measures; add --evaluate");
  o.architecture_aware = choice.architecture_aware;
  o.tensor_types = choice.tensor_types;
  o.output_type = choice.output_type;
  o.token_embedding_type = choice.token_embedding_type;
  o.mlx_overrides = choice.mlx_overrides;
  o.embedding_bits = choice.embedding_bits;
  if (a.mixed) o.mlx_mixed = true;
  if (a.no_mixed) o.mlx_mixed = false;
  o.threads = a.threads;
  o.progress = !a.quiet && !a.json;

  const convert::SourceModel src = convert::open_source_model(a.model);
  app::PrecisionInputs in = app::resolve_inputs(a.model, src, a.auto_flags, choice, o.precision.gguf_auto, a.threads, o.progress);
  o.importance = in.importance.importance();
  if (in.allocation) {
    o.gguf_assigned = in.allocation->assigned;
    o.gguf_label = in.allocation->label;
  }

  // Warnings about the inputs come before the (possibly long) conversion, not after it.
  if (!a.json)
    for (const auto& w : in.importance.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  convert::ConvertResult r = convert::convert(o);
  if (a.json) r.warnings.insert(r.warnings.begin(), in.importance.warnings.begin(), in.importance.warnings.end());
  // Only the GGUF is allocated under --target-size: say so for every MLX folder written next to it.
  if (in.file_budget > 0)
    for (const auto& art : r.artifacts)
      if (art.format == "mlx")
        r.warnings.push_back(fmt::format("--target-size bounds the GGUF only: MLX {} has fixed widths and is {} bytes ({:.1f}% of the budget)",
                                         art.precision, grouped(art.size_bytes), 100.0 * static_cast<double>(art.size_bytes) /
                                                                                       static_cast<double>(in.file_budget)));
  if (a.json) {
    nlohmann::json j = {{"output", a.output}, {"seconds", r.seconds}, {"warnings", r.warnings}, {"artifacts", nlohmann::json::array()}};
    for (const auto& art : r.artifacts)
      j["artifacts"].push_back({{"format", art.format}, {"precision", art.precision}, {"path", art.path},
                                {"size_bytes", art.size_bytes}, {"bpw", art.bpw}});
    if (in.allocation) {
      j["allocation"] = {{"estimator", in.allocation->estimator}, {"budget_bytes", in.allocation->budget_bytes},
                         {"tensor_bytes", in.allocation->bytes}, {"predicted_loss", in.allocation->predicted_loss}};
      if (in.file_budget > 0) {
        // budget_bytes is what the allocator had for tensor data: the file budget less header and padding.
        j["allocation"]["file_budget_bytes"] = in.file_budget;
        j["allocation"]["header_bytes"] = in.overhead.header_bytes;
        j["allocation"]["max_padding_bytes"] = in.overhead.max_padding_bytes;
        for (const auto& art : r.artifacts)
          if (art.format == "gguf") j["allocation"]["file_bytes"] = art.size_bytes;
      }
    }
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    if (in.allocation)
      std::printf("allocation: %s sensitivity, budget %s, tensors %s, predicted loss %.4g\n", in.allocation->estimator.c_str(),
                  format_bytes(in.allocation->budget_bytes).c_str(), format_bytes(in.allocation->bytes).c_str(),
                  in.allocation->predicted_loss);
    for (const auto& art : r.artifacts) {
      std::printf("%-5s %-12s %10s %6.3f bpw  %s/%s\n", art.format.c_str(), art.precision.c_str(),
                  format_bytes(art.size_bytes).c_str(), art.bpw, a.output.c_str(), art.path.c_str());
      if (in.file_budget > 0 && art.format == "gguf")
        std::printf("      file %s bytes, %.1f%% of the %s-byte --target-size budget\n", grouped(art.size_bytes).c_str(),
                    100.0 * static_cast<double>(art.size_bytes) / static_cast<double>(in.file_budget),
                    grouped(in.file_budget).c_str());
    }
    std::printf("manifest: %s/manifest.json (%.1f s)\n", a.output.c_str(), r.seconds);
  }
  int status = 0;
  if (a.validate) {
    // Right after conversion: measure every artifact against the original (results go into the manifest).
    eval::ValidateOptions v;
    v.original = a.model;
    v.quantized = a.output;
    v.gates.max_ppl_increase = choice.recipe.max_ppl_increase;
    v.gates.max_kld_mean = choice.recipe.max_kld_mean;
    v.progress = !a.quiet && !a.json;
    if (!a.v_corpus.empty()) v.corpus = a.v_corpus;
    if (a.v_ctx > 0) v.ctx = a.v_ctx;
    v.max_tokens = a.v_max_tokens;
    if (a.v_chunks > 0) v.max_tokens = static_cast<int64_t>(a.v_chunks) * v.ctx;
    v.report_each = !a.json;
    const eval::ValidationReport report = eval::validate_and_record(v);
    if (a.json) std::printf("%s\n", eval::to_json(report).dump(2).c_str());
    else std::printf("%s", eval::render_table(report).c_str());
    status = report.all_pass() ? 0 : 2;
  }
  if (a.evaluate) {
    // Every artifact just written (and the original checkpoint as the baseline row) on the question suite.
    eval::EvaluateOptions e;
    e.model = a.output;
    e.suite = a.eval_suite;
    e.method = a.eval_method;
    e.limit = a.eval_limit;
    e.threads = a.threads;
    e.progress = !a.quiet && !a.json;
    const eval::EvaluateRun run = eval::evaluate_and_record(e);
    if (a.json) std::printf("%s\n", eval::to_json(run, a.output, false).dump(2).c_str());
    else std::printf("%s", eval::render_table(run).c_str());
    if (run.any_failed()) status = 2;
  }
  return status;
}

lp::app::RegisterCommand reg{{"convert", "Convert a Hugging Face checkpoint to GGUF and/or MLX artifacts",
                              [](CLI::App& sub) {
                                auto a = std::make_shared<ConvertArgs>();
                                sub.add_option("model", a->model, "Hugging Face checkpoint folder")->required();
                                sub.add_option("--output,-o", a->output, "Output directory (manifest.json, gguf/, mlx/)")->required();
                                sub.add_option("--formats", a->formats,
                                               "gguf, mlx or gguf,mlx (default: the formats --precision names, else gguf); "
                                               "must agree with --precision");
                                lp::app::add_deprecated_alias(sub, "-p", a->precision.precision, "--precision (-p means --prompt in every command)");
                                sub.add_option("--precision", a->precision.precision,
                                               "Comma list; each item is a GGUF:MLX pair (q4_k_m:4bit) or one name whose format "
                                               "follows from it (q4_k_m, q8_0, auto: GGUF; 4bit, 8bit-g32, 4bit-pure: MLX). "
                                               "Examples: 4bit | q4_k_m,q8_0 | q4_k_m:4bit,q8_0:8bit | q4_k_m,4bit. GGUF 'auto' "
                                               "allocates per tensor under --target-bpw/--target-size. Default q4_k_m");
                                lp::app::add_precision_flags(sub, a->precision);
                                lp::app::add_auto_flags(sub, a->auto_flags);
                                sub.add_option("--mlx-bits", a->precision.mlx_bits, "MLX override REGEX=BITS (repeatable)");
                                sub.add_flag("--mixed-precision", a->mixed, "MLX: embeddings and lm_head at --embedding-bits (default)");
                                sub.add_flag("--no-mixed-precision", a->no_mixed, "MLX: every quantized tensor at the body width");
                                lp::app::add_threads(sub, a->threads);
                                lp::app::add_quiet(sub, a->quiet);
                                sub.add_flag("--force", a->force, "Replace a non-empty output folder as a whole (refused without it)");
                                sub.add_flag("--validate", a->validate, "Run validate on the artifacts right after converting");
                                sub.add_option("--corpus", a->v_corpus, "With --validate: text file to evaluate on (default: built-in corpus)")
                                    ->check(CLI::ExistingFile);
                                sub.add_option("--ctx", a->v_ctx, "With --validate: chunk length in tokens (default 512)");
                                lp::app::add_deprecated_alias(sub, "--max-tokens", a->v_max_tokens, "--chunks (corpus tokens = chunks x --ctx)");
                                sub.add_option("--chunks", a->v_chunks, "With --validate: chunks to evaluate (default: all)");
                                sub.add_flag("--evaluate", a->evaluate,
                                             "Run evaluate on every artifact written (and the original as the baseline): "
                                             "evaluation.json beside each, recorded in manifest.json");
                                sub.add_option("--eval-limit", a->eval_limit, "With --evaluate: at most N questions per category (0: all)")
                                    ->check(CLI::NonNegativeNumber);
                                sub.add_option("--eval-suite", a->eval_suite, "With --evaluate: builtin or a JSON Lines question file");
                                sub.add_option("--eval-method", a->eval_method, "With --evaluate: auto, loglik or generate")
                                    ->check(CLI::IsMember({"auto", "loglik", "generate"}));
                                sub.add_flag("--json", a->json, "Machine-readable summary");
                                return [a] { return run_convert(*a); };
                              }}};

}  // namespace
