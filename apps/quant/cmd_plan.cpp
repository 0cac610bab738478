// llama-pajamas-quant plan MODEL --precision P: the per-tensor precision plan with the reason for each choice.
// `--precision auto --target-bpw 4.5 --calibration DIR` shows the allocator's choice and each tensor's sensitivity.
#include <cstdio>
#include <nlohmann/json.hpp>

#include "common/command.h"
#include "convert/source_model.h"
#include "core/error.h"
#include "hub/hub.h"
#include "plan/gguf_plan.h"
#include "plan/mlx_plan.h"
#include "plan/preset.h"
#include "plan/recipe.h"
#include "precision_flags.h"

namespace {

struct PlanArgs {
  std::string model;
  lp::plan::PrecisionFlags precision;
  lp::app::AutoFlags auto_flags;
  bool json = false, verbose = false, quiet = false;
  int threads = 0;
};

int run_plan(PlanArgs a) {
  using namespace lp;
  a.model = hub::resolve_model(a.model);  // a hub repo id: its cached (or downloaded) snapshot
  const plan::PrecisionChoice choice = plan::resolve_precision_flags(a.precision, true, true);
  std::string precision = choice.precision;
  if (precision.empty() && a.auto_flags.wants_auto()) precision = "auto";
  if (precision.empty()) fail("--precision is required (e.g. q4_k_m, 4bit, q4_k_m:4bit, or auto with --target-bpw)");

  // Each item's format follows from its name (q4_k_m, auto: GGUF; 4bit: MLX); "A:B" pairs one of each.
  plan::PrecisionRequest req = plan::parse_precision(precision);

  const convert::SourceModel src = convert::open_source_model(a.model);
  const bool progress = !a.quiet && !a.json;
  app::PrecisionInputs in = app::resolve_inputs(a.model, src, a.auto_flags, choice, req.gguf_auto, a.threads, progress);
  for (const auto& w : in.importance.warnings) std::fprintf(stderr, "warning: %s\n", w.c_str());
  nlohmann::json out = nlohmann::json::array();
  plan::PlanSettings settings = plan::plan_settings(choice);
  settings.has_imatrix = in.importance.imatrix != nullptr;
  if (in.allocation) {
    settings.assigned = in.allocation->assigned;
    settings.label = in.allocation->label;
  }
  for (plan::Preset p : req.gguf) {
    const plan::GgufPlanOptions o = plan::gguf_plan_options(settings, p);
    plan::GgufPlan gp = plan::plan_gguf(src.hp, src.gguf, o);
    if (a.json) {
      out.push_back(plan::to_json(gp));
      if (in.allocation)
        out.back()["allocation"] = {{"estimator", in.allocation->estimator}, {"budget_bytes", in.allocation->budget_bytes},
                                    {"predicted_loss", in.allocation->predicted_loss}};
    } else {
      std::fputs(plan::to_table(gp, a.verbose).c_str(), stdout);
      if (in.allocation)
        std::printf("allocation: %s sensitivity, budget %llu bytes, predicted loss %.4g\n", in.allocation->estimator.c_str(),
                    static_cast<unsigned long long>(in.allocation->budget_bytes), in.allocation->predicted_loss);
    }
  }
  for (const auto& mp : req.mlx) {
    const plan::MlxPlanOptions o = plan::mlx_plan_options(settings, mp);
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
                                lp::app::add_deprecated_alias(sub, "-p", a->precision.precision, "--precision (-p means --prompt in every command)");
                                sub.add_option("--precision", a->precision.precision,
                                               "GGUF preset (q8_0, q6_k, q5_k_m, q4_k_m, q3_k_m, q2_k, iq4_xs, ...), "
                                               "auto (with --target-bpw/--target-size), MLX width (4bit, 6bit-g32, "
                                               "4bit-pure), or GGUF:MLX");
                                lp::app::add_precision_flags(sub, a->precision);
                                lp::app::add_auto_flags(sub, a->auto_flags);
                                sub.add_option("--mlx-bits", a->precision.mlx_bits, "MLX override REGEX=BITS (repeatable)");
                                lp::app::add_threads(sub, a->threads);
                                sub.add_flag("--verbose,-v", a->verbose, "Also list norms and biases");
                                lp::app::add_quiet(sub, a->quiet);
                                sub.add_flag("--json", a->json, "Machine-readable output");
                                return [a] { return run_plan(*a); };
                              }}};

}  // namespace
