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
#include "eval/validate.h"
#include "plan/recipe.h"
#include "precision_flags.h"

namespace {

struct ConvertArgs {
  std::string model, output, formats = "gguf";
  lp::plan::PrecisionFlags precision;
  lp::app::AutoFlags auto_flags;
  bool mixed = false, no_mixed = false, json = false, quiet = false, validate = false;
  int threads = 0;
};

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
  parse_formats(a.formats, o);
  const plan::PrecisionChoice choice = plan::resolve_precision_flags(a.precision, o.gguf, o.mlx);
  std::string precision = choice.precision;
  if (precision.empty()) precision = a.auto_flags.wants_auto() ? (o.mlx ? "auto:4bit" : "auto")
                                     : o.gguf && o.mlx ? "q4_k_m:4bit" : o.gguf ? "q4_k_m" : "4bit";
  o.precision = plan::parse_precision(precision, o.gguf, o.mlx);
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

  convert::ConvertResult r = convert::convert(o);
  r.warnings.insert(r.warnings.begin(), in.importance.warnings.begin(), in.importance.warnings.end());
  if (a.json) {
    nlohmann::json j = {{"output", a.output}, {"seconds", r.seconds}, {"warnings", r.warnings}, {"artifacts", nlohmann::json::array()}};
    for (const auto& art : r.artifacts)
      j["artifacts"].push_back({{"format", art.format}, {"precision", art.precision}, {"path", art.path},
                                {"size_bytes", art.size_bytes}, {"bpw", art.bpw}});
    if (in.allocation)
      j["allocation"] = {{"estimator", in.allocation->estimator}, {"budget_bytes", in.allocation->budget_bytes},
                         {"tensor_bytes", in.allocation->bytes}, {"predicted_loss", in.allocation->predicted_loss}};
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
    if (in.allocation)
      std::printf("allocation: %s sensitivity, budget %s, tensors %s, predicted loss %.4g\n", in.allocation->estimator.c_str(),
                  format_bytes(in.allocation->budget_bytes).c_str(), format_bytes(in.allocation->bytes).c_str(),
                  in.allocation->predicted_loss);
    for (const auto& art : r.artifacts)
      std::printf("%-5s %-12s %10s %6.3f bpw  %s/%s\n", art.format.c_str(), art.precision.c_str(),
                  format_bytes(art.size_bytes).c_str(), art.bpw, a.output.c_str(), art.path.c_str());
    std::printf("manifest: %s/manifest.json (%.1f s)\n", a.output.c_str(), r.seconds);
  }
  if (a.validate) {
    // Right after conversion: measure every artifact against the original (results go into the manifest).
    eval::ValidateOptions v;
    v.original = a.model;
    v.quantized = a.output;
    v.gates.max_ppl_increase = choice.recipe.max_ppl_increase;
    v.gates.max_kld_mean = choice.recipe.max_kld_mean;
    v.progress = !a.quiet && !a.json;
    const eval::ValidationReport report = eval::validate_and_record(v);
    if (a.json) std::printf("%s\n", eval::to_json(report).dump(2).c_str());
    else std::printf("%s", eval::render_table(report).c_str());
    return report.all_pass() ? 0 : 2;
  }
  return 0;
}

lp::app::RegisterCommand reg{{"convert", "Convert a Hugging Face checkpoint to GGUF and/or MLX artifacts",
                              [](CLI::App& sub) {
                                auto a = std::make_shared<ConvertArgs>();
                                sub.add_option("model", a->model, "Hugging Face checkpoint folder")->required();
                                sub.add_option("--output,-o", a->output, "Output directory (manifest.json, gguf/, mlx/)")->required();
                                sub.add_option("--formats", a->formats, "gguf, mlx or gguf,mlx")->capture_default_str();
                                sub.add_option("--precision,-p", a->precision.precision,
                                               "GGUF:MLX (q4_k_m:4bit) or one value for one format; lists write several "
                                               "artifacts (q4_k_m,q8_0); GGUF 'auto' allocates per tensor under "
                                               "--target-bpw/--target-size. Default q4_k_m / 4bit");
                                lp::app::add_precision_flags(sub, a->precision);
                                lp::app::add_auto_flags(sub, a->auto_flags);
                                sub.add_option("--mlx-bits", a->precision.mlx_bits, "MLX override REGEX=BITS (repeatable)");
                                sub.add_flag("--mixed-precision", a->mixed, "MLX: embeddings and lm_head at --embedding-bits (default)");
                                sub.add_flag("--no-mixed-precision", a->no_mixed, "MLX: every quantized tensor at the body width");
                                sub.add_option("--threads,-t", a->threads, "Quantization threads (default: all cores)");
                                sub.add_flag("--quiet,-q", a->quiet, "No progress bar");
                                sub.add_flag("--validate", a->validate, "Run validate on the artifacts right after converting");
                                sub.add_flag("--json", a->json, "Machine-readable summary");
                                return [a] { return run_convert(*a); };
                              }}};

}  // namespace
