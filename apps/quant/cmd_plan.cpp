// llama-pajamas-quant plan MODEL --precision P: the per-tensor precision plan with the reason for each choice.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/command.h"
#include "core/error.h"
#include "convert/source_model.h"
#include "plan/gguf_plan.h"
#include "plan/mlx_plan.h"
#include "plan/preset.h"
#include "plan/recipe.h"

namespace {

struct PlanArgs {
  std::string model;
  std::string precision;
  std::vector<std::string> tensor_types;
  std::string recipe;
  std::string output_type, token_embedding_type;
  bool no_arch = false, json = false, verbose = false;
  int embedding_bits = 6;
};

int run_plan(const PlanArgs& a) {
  using namespace lp;
  plan::Recipe recipe;
  if (!a.recipe.empty()) recipe = plan::load_recipe(a.recipe);
  std::string precision = a.precision;
  if (precision.empty() && recipe.gguf_precision) precision = *recipe.gguf_precision;
  if (precision.empty() && recipe.mlx_precision) precision = *recipe.mlx_precision;
  if (precision.empty()) fail("--precision is required (e.g. q4_k_m, 4bit, or q4_k_m:4bit)");

  // One value: GGUF preset or MLX width; "A:B": both.
  const bool has_colon = precision.find(':') != std::string::npos;
  const bool is_mlx = !has_colon && plan::mlx_precision_from_name(precision).has_value();
  plan::PrecisionRequest req = plan::parse_precision(precision, has_colon || !is_mlx, has_colon || is_mlx);

  convert::SourceModel src = convert::open_source_model(a.model);
  const bool arch_aware = a.no_arch ? false : recipe.architecture_aware.value_or(true);
  nlohmann::json out = nlohmann::json::array();
  for (plan::Preset p : req.gguf) {
    plan::GgufPlanOptions o;
    o.preset = p;
    o.architecture_aware = arch_aware;
    for (const auto& t : a.tensor_types) o.overrides.push_back(plan::parse_type_override(t));
    o.overrides.insert(o.overrides.end(), recipe.tensor_types.begin(), recipe.tensor_types.end());
    o.output_type = a.output_type.empty() ? recipe.output_type : plan::parse_ggml_type(a.output_type, "--output-tensor-type");
    o.token_embd_type = a.token_embedding_type.empty() ? recipe.token_embedding_type
                                                       : plan::parse_ggml_type(a.token_embedding_type, "--token-embedding-type");
    plan::GgufPlan gp = plan::plan_gguf(src.hp, src.gguf, o);
    if (a.json) out.push_back(plan::to_json(gp));
    else std::fputs(plan::to_table(gp, a.verbose).c_str(), stdout);
  }
  for (const auto& mp : req.mlx) {
    plan::MlxPlanOptions o;
    o.precision = mp;
    o.architecture_aware = arch_aware;
    o.embedding_bits = recipe.embedding_bits.value_or(a.embedding_bits);
    o.overrides = recipe.mlx_overrides;
    plan::MlxPlan p = plan::plan_mlx(src.hp, src.mlx, o);
    if (a.json) out.push_back(plan::to_json(p));
    else std::fputs(plan::to_table(p, a.verbose).c_str(), stdout);
  }
  if (a.json) std::printf("%s\n", (out.size() == 1 ? out[0] : out).dump(2).c_str());
  return 0;
}

lp::app::RegisterCommand reg{{"plan", "Show the per-tensor precision plan and the reason for each choice",
                              [](CLI::App& sub) {
                                auto a = std::make_shared<PlanArgs>();
                                sub.add_option("model", a->model, "Hugging Face checkpoint folder")->required();
                                sub.add_option("--precision,-p", a->precision,
                                               "GGUF preset (q8_0, q6_k, q5_k_m, q4_k_m, q3_k_m, q2_k, iq4_xs, ...), "
                                               "MLX width (4bit, 6bit-g32, 4bit-pure), or GGUF:MLX");
                                sub.add_option("--tensor-type", a->tensor_types, "Override: REGEX=TYPE (repeatable, first match wins)");
                                sub.add_option("--recipe", a->recipe, "Recipe file (YAML or JSON), see docs/PLAN.md");
                                sub.add_option("--output-tensor-type", a->output_type, "Type of output.weight");
                                sub.add_option("--token-embedding-type", a->token_embedding_type, "Type of token_embd.weight");
                                sub.add_option("--embedding-bits", a->embedding_bits, "MLX mixed precision: bits of embeddings/lm_head");
                                sub.add_flag("--no-architecture-aware", a->no_arch, "Plain llama.cpp mix (the baseline)");
                                sub.add_flag("--verbose,-v", a->verbose, "Also list norms and biases");
                                sub.add_flag("--json", a->json, "Machine-readable output");
                                return [a] { return run_plan(*a); };
                              }}};

}  // namespace
