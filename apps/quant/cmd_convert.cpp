// llama-pajamas-quant convert MODEL --output DIR --formats gguf,mlx --precision q4_k_m:4bit
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/command.h"
#include "calib/imatrix.h"
#include "convert/convert.h"
#include "convert/source_model.h"
#include "eval/validate.h"
#include "core/error.h"
#include "core/units.h"
#include "plan/recipe.h"

namespace {

struct ConvertArgs {
  std::string model, output, formats = "gguf", precision, recipe, imatrix;
  std::vector<std::string> tensor_types, mlx_bits;
  std::string output_type, token_embedding_type;
  bool no_arch = false, arch = false, mixed = false, no_mixed = false, json = false, quiet = false, validate = false;
  int embedding_bits = 6, threads = 0;
};

int run_convert(const ConvertArgs& a) {
  using namespace lp;
  convert::ConvertOptions o;
  o.model = a.model;
  o.output = a.output;
  o.gguf = o.mlx = false;
  std::string f = a.formats;
  for (size_t start = 0; start <= f.size();) {
    size_t end = f.find(',', start);
    std::string item = f.substr(start, end == std::string::npos ? std::string::npos : end - start);
    if (item == "gguf") o.gguf = true;
    else if (item == "mlx") o.mlx = true;
    else fail("--formats: unknown format '{}' (use gguf, mlx or gguf,mlx)", item);
    if (end == std::string::npos) break;
    start = end + 1;
  }
  plan::Recipe recipe;
  if (!a.recipe.empty()) recipe = plan::load_recipe(a.recipe);
  std::string precision = a.precision;
  if (precision.empty()) {
    std::string g = recipe.gguf_precision.value_or(""), m = recipe.mlx_precision.value_or("");
    if (o.gguf && o.mlx) precision = g.empty() || m.empty() ? "" : g + ":" + m;
    else precision = o.gguf ? g : m;
  }
  if (precision.empty()) precision = o.gguf && o.mlx ? "q4_k_m:4bit" : o.gguf ? "q4_k_m" : "4bit";
  o.precision = plan::parse_precision(precision, o.gguf, o.mlx);
  o.architecture_aware = a.no_arch ? false : recipe.architecture_aware.value_or(true);
  for (const auto& t : a.tensor_types) o.tensor_types.push_back(plan::parse_type_override(t));
  o.tensor_types.insert(o.tensor_types.end(), recipe.tensor_types.begin(), recipe.tensor_types.end());
  o.output_type = a.output_type.empty() ? recipe.output_type : plan::parse_ggml_type(a.output_type, "--output-tensor-type");
  o.token_embedding_type = a.token_embedding_type.empty() ? recipe.token_embedding_type
                                                          : plan::parse_ggml_type(a.token_embedding_type, "--token-embedding-type");
  for (const auto& b : a.mlx_bits) {
    auto eq = b.rfind('=');
    if (eq == std::string::npos) fail("--mlx-bits: '{}' is not REGEX=BITS", b);
    try {
      o.mlx_overrides.push_back({b.substr(0, eq), std::stoi(b.substr(eq + 1))});
    } catch (const std::exception&) {
      fail("--mlx-bits: '{}' is not REGEX=BITS", b);
    }
  }
  o.mlx_overrides.insert(o.mlx_overrides.end(), recipe.mlx_overrides.begin(), recipe.mlx_overrides.end());
  o.embedding_bits = recipe.embedding_bits.value_or(a.embedding_bits);
  if (a.mixed) o.mlx_mixed = true;
  if (a.no_mixed) o.mlx_mixed = false;
  o.threads = a.threads;
  std::vector<std::string> imatrix_warnings;
  std::shared_ptr<calib::Imatrix> imatrix;
  if (!a.imatrix.empty()) {
    // Checked against the model's weight matrices before anything is written.
    imatrix = std::make_shared<calib::Imatrix>(calib::Imatrix::load(a.imatrix));
    convert::SourceModel src = convert::open_source_model(a.model);
    std::map<std::string, calib::WeightShape> weights;
    for (const auto& t : src.gguf)
      if (arch::role_is_matrix(t.role) && !t.is_bias && t.ne.size() >= 2 && t.role != arch::Role::Router)
        weights[t.gguf_name] = {t.ne[0], t.ne.size() > 2 ? t.ne[2] : 1};
    calib::ImatrixCoverage cov = calib::check_imatrix(*imatrix, weights, a.imatrix);
    for (const auto& m : cov.missing) imatrix_warnings.push_back("imatrix: no data for " + m + ": quantized without importance weights");
    for (const auto& x : cov.uncovered_experts)
      imatrix_warnings.push_back("imatrix: " + x + " saw no calibration tokens: uniform importance (as llama.cpp)");
    o.importance = [imatrix](const std::string& name, int expert, int64_t n_per_row) {
      return imatrix->importance(name, expert, n_per_row);
    };
  }
  o.progress = !a.quiet && !a.json;

  convert::ConvertResult r = convert::convert(o);
  r.warnings.insert(r.warnings.begin(), imatrix_warnings.begin(), imatrix_warnings.end());
  if (a.json) {
    nlohmann::json j = {{"output", a.output}, {"seconds", r.seconds}, {"warnings", r.warnings}, {"artifacts", nlohmann::json::array()}};
    for (const auto& art : r.artifacts)
      j["artifacts"].push_back({{"format", art.format}, {"precision", art.precision}, {"path", art.path},
                                {"size_bytes", art.size_bytes}, {"bpw", art.bpw}});
    std::printf("%s\n", j.dump(2).c_str());
  } else {
    for (const auto& w : r.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
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
    v.gates.max_ppl_increase = recipe.max_ppl_increase;
    v.gates.max_kld_mean = recipe.max_kld_mean;
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
                                sub.add_option("--precision,-p", a->precision,
                                               "GGUF:MLX (q4_k_m:4bit) or one value for one format; lists write several "
                                               "artifacts (q4_k_m,q8_0). Default q4_k_m / 4bit");
                                sub.add_option("--tensor-type", a->tensor_types, "GGUF override REGEX=TYPE (repeatable)");
                                sub.add_option("--mlx-bits", a->mlx_bits, "MLX override REGEX=BITS (repeatable)");
                                sub.add_option("--recipe", a->recipe, "Recipe file (YAML or JSON)");
                                sub.add_option("--imatrix", a->imatrix, "Importance matrix (llama.cpp imatrix.gguf or legacy .dat)");
                                sub.add_option("--output-tensor-type", a->output_type, "GGUF type of output.weight");
                                sub.add_option("--token-embedding-type", a->token_embedding_type, "GGUF type of token_embd.weight");
                                sub.add_flag("--mixed-precision", a->mixed, "MLX: embeddings and lm_head at --embedding-bits (default)");
                                sub.add_flag("--no-mixed-precision", a->no_mixed, "MLX: every quantized tensor at the body width");
                                sub.add_option("--embedding-bits", a->embedding_bits, "MLX mixed precision: bits of embeddings/lm_head")->capture_default_str();
                                sub.add_flag("--architecture-aware", a->arch, "Architecture rules on top of the preset (default)");
                                sub.add_flag("--no-architecture-aware", a->no_arch, "Plain llama.cpp mix (the baseline for comparisons)");
                                sub.add_option("--threads,-t", a->threads, "Quantization threads (default: all cores)");
                                sub.add_flag("--quiet,-q", a->quiet, "No progress bar");
                                sub.add_flag("--validate", a->validate, "Run validate on the artifacts right after converting");
                                sub.add_flag("--json", a->json, "Machine-readable summary");
                                return [a] { return run_convert(*a); };
                              }}};

}  // namespace
