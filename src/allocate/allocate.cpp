#include "allocate/allocate.h"

#include <fmt/format.h>

#include <algorithm>
#include <functional>

#include "allocate/candidates.h"
#include "allocate/solver.h"
#include "core/error.h"
#include "plan/priors.h"

namespace lp::allocate {

Estimator estimator_from_name(const std::string& name) {
  if (name == "auto") return Estimator::Auto;
  if (name == "measured") return Estimator::Measured;
  if (name == "proxy") return Estimator::Proxy;
  if (name == "measured-all") return Estimator::MeasuredAll;
  fail("--sensitivity: unknown estimator '{}' (use auto, measured, measured-all or proxy)", name);
}

namespace {

// Tensors the allocator must leave as the base plan has them.
bool is_fixed(const plan::PlannedTensor& p, bool architecture_aware) {
  if (!p.quantizable) return true;
  if (p.rule == "user" || p.rule.rfind("user+", 0) == 0) return true;
  return architecture_aware && p.rule == "arch:native_mxfp4";
}

// The type whose measured KLD anchors a tensor's loss curve: Q4_K (or its fallback), the middle of the ladder.
GgmlType anchor_type(const std::vector<GgmlType>& types) {
  for (GgmlType t : types)
    if (t == GgmlType::Q4_K || t == GgmlType::Q5_0) return t;
  return types[types.size() / 2];
}

// For a stacked expert tensor, the measured usage behind its error weighting: each expert's routed tokens
// relative to the layer's mean (1 = average), from the imatrix counts.
std::string expert_usage_note(const arch::GgufTensorRecipe& r, const std::function<double(const std::string&, int)>& usage) {
  if (!usage || r.ne.size() < 3 || r.ne[2] <= 1) return "";
  double lo = 1e300, hi = 0;
  int rare = 0;
  for (int e = 0; e < static_cast<int>(r.ne[2]); ++e) {
    const double u = usage(r.gguf_name, e);
    lo = std::min(lo, u);
    hi = std::max(hi, u);
    rare += u < 0.25;
  }
  return fmt::format("; expert usage (routed tokens / layer mean) min {:.2f} max {:.2f}, {} of {} experts under 0.25",
                     lo, hi, rare, r.ne[2]);
}

}  // namespace

Allocation allocate(const convert::SourceModel& src, const plan::GgufPlanOptions& base_options, const AllocateOptions& o) {
  plan::GgufPlanOptions bo = base_options;
  bo.assigned.clear();
  const plan::GgufPlan base = plan::plan_gguf(src.hp, src.gguf, bo);

  Allocation a;
  if (o.target_bytes) a.budget_bytes = *o.target_bytes;
  else if (o.target_bpw) a.budget_bytes = static_cast<uint64_t>(*o.target_bpw * static_cast<double>(base.total_params) / 8.0);
  else fail("--precision auto needs --target-bpw or --target-size");

  // Items: fixed tensors with their one option, free tensors with every candidate type.
  std::vector<Item> items;
  std::map<std::string, std::vector<GgmlType>> to_measure;
  for (const auto& p : base.tensors) {
    Item it{p.recipe.gguf_name, {}};
    if (is_fixed(p, base_options.architecture_aware)) {
      it.options.push_back({p.type, p.bytes, 0.0});
    } else {
      // The i-quants only where importance covers the tensor (llama.cpp refuses IQ2/IQ3_XXS without it).
      const bool with_importance =
          o.sensitivity.importance && o.sensitivity.importance(p.recipe.gguf_name, 0, p.recipe.ne[0]).has_value();
      for (GgmlType t : candidate_types(p.recipe.ne[0], with_importance))
        it.options.push_back({t, plan::tensor_bytes(t, p.recipe.ne), 0.0});
      if (it.options.empty()) fail("allocate: no candidate type can hold {} (rows of {})", p.recipe.gguf_name, p.recipe.ne[0]);
      for (const auto& opt : it.options) to_measure[p.recipe.gguf_name].push_back(opt.type);
    }
    items.push_back(std::move(it));
  }
  const uint64_t min_bytes = min_total_bytes(items);
  if (a.budget_bytes < min_bytes) {
    const double min_bpw = 8.0 * static_cast<double>(min_bytes) / static_cast<double>(base.total_params);
    if (o.target_bpw)
      fail("--target-bpw {:g} is below what this model's types can reach: minimum {:.3f} bpw ({} bytes)", *o.target_bpw,
           min_bpw, min_bytes);
    fail("--target-size {} bytes is below what this model's types can reach: minimum {} bytes ({:.3f} bpw)",
         a.budget_bytes, min_bytes, min_bpw);
  }

  const bool measure = o.estimator == Estimator::Measured || o.estimator == Estimator::MeasuredAll ||
                       (o.estimator == Estimator::Auto && !o.sensitivity.text.empty() && base.total_params <= o.measured_max_params);
  if ((o.estimator == Estimator::Measured || o.estimator == Estimator::MeasuredAll) && o.sensitivity.text.empty())
    fail("--sensitivity measured needs calibration text (--calibration)");
  a.estimator = measure ? "measured" : "proxy";
  const LossTable proxy = o.estimator == Estimator::MeasuredAll ? LossTable{} : proxy_error(o.sensitivity, to_measure);
  LossTable loss = proxy;
  std::map<std::string, std::pair<GgmlType, double>> anchor_kld;  // for the reasons
  if (o.estimator == Estimator::MeasuredAll) {
    loss = measure_kld(o.sensitivity, to_measure);
  } else if (measure) {
    // One measurement per tensor at an anchor type sets its KLD scale; the proxy gives the shape across
    // types (KLD grows with the weighted squared error for small perturbations).
    std::map<std::string, std::vector<GgmlType>> anchors;
    for (const auto& [name, types] : to_measure) anchors[name] = {anchor_type(types)};
    const LossTable kld = measure_kld(o.sensitivity, anchors);
    for (auto& [name, per_type] : loss) {
      const GgmlType anchor = anchors[name].front();
      const double at_anchor = proxy.at(name).at(anchor), measured = kld.at(name).at(anchor);
      anchor_kld[name] = {anchor, measured};
      for (auto& [type, value] : per_type) value = at_anchor > 0 ? measured * value / at_anchor : measured;
    }
  }

  std::map<std::string, plan::SensitivityPrior> priors;
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& p = base.tensors[i];
    auto l = loss.find(p.recipe.gguf_name);
    if (l == loss.end()) continue;
    plan::SensitivityPrior prior;
    if (base_options.architecture_aware) prior = plan::sensitivity_prior(src.hp, p.recipe, measure);
    for (auto& opt : items[i].options) opt.loss = l->second.at(opt.type) * prior.factor;
    priors[p.recipe.gguf_name] = prior;
  }

  const Solution s = solve(items, a.budget_bytes);
  a.bytes = s.bytes;
  a.predicted_loss = s.loss;
  const double bpw = 8.0 * static_cast<double>(s.bytes) / static_cast<double>(base.total_params);
  a.label = fmt::format("AUTO-{:.2f}BPW", bpw);
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& name = items[i].name;
    auto l = loss.find(name);
    if (l == loss.end()) continue;
    const Option& chosen = items[i].options[s.choice[i]];
    const Option& cheapest = items[i].options.front();
    std::string why;
    if (auto an = anchor_kld.find(name); an != anchor_kld.end())
      why = fmt::format("measured KLD {:.3g} at {} (only this tensor lowered); predicted {:.3g} at {}, {:.3g} at {}",
                        an->second.second, ggml_type_name(an->second.first), l->second.at(chosen.type),
                        ggml_type_name(chosen.type), l->second.at(cheapest.type), ggml_type_name(cheapest.type));
    else
      why = fmt::format("{} {}: {:.3g} at {} vs {:.3g} at {}", a.estimator,
                        measure ? "KLD with only this tensor lowered" : "weighted quantization error",
                        l->second.at(chosen.type), ggml_type_name(chosen.type), l->second.at(cheapest.type),
                        ggml_type_name(cheapest.type));
    const auto& prior = priors[name];
    if (!prior.applied.empty()) why += "; " + prior.summary();
    why += expert_usage_note(base.tensors[i].recipe, o.sensitivity.expert_usage);
    a.assigned[name] = {chosen.type, "allocate:" + a.estimator, why, chosen.loss};
  }
  return a;
}

}  // namespace lp::allocate
