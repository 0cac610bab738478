#include "plan/mlx_plan.h"

#include <algorithm>
#include <regex>

#include <fmt/format.h>

#include "core/error.h"
#include "core/units.h"

namespace lp::plan {
namespace {

using arch::Role;

bool mlx_use_more_bits(int i_layer, int n_layers) {
  return i_layer < n_layers / 8 || i_layer >= 7 * n_layers / 8 || (i_layer - n_layers / 8) % 3 == 2;
}

int clamp_bits(int bits) {
  if (bits >= 8) return 8;
  if (bits == 7) return 8;
  return bits;
}

std::string module_path(const std::string& tensor_name) {
  const std::string suffix = ".weight";
  if (tensor_name.size() > suffix.size() && tensor_name.ends_with(suffix))
    return tensor_name.substr(0, tensor_name.size() - suffix.size());
  return tensor_name;
}

}  // namespace

MlxPlan plan_mlx(const arch::HParams& hp, const std::vector<arch::MlxTensorRecipe>& recipes, const MlxPlanOptions& options) {
  MlxPlan plan;
  plan.precision = options.precision;
  plan.architecture_aware = options.architecture_aware;
  const int body = options.precision.bits;
  const int group = options.precision.group_size;
  const int n_gqa = hp.n_head_kv > 0 ? hp.n_head / hp.n_head_kv : 1;
  const bool mixed_attention = std::any_of(hp.layers.begin(), hp.layers.end(), [](const auto& k) { return k.sliding; }) &&
                               std::any_of(hp.layers.begin(), hp.layers.end(), [](const auto& k) { return !k.sliding; });

  struct Compiled {
    std::regex re;
    const BitsOverride* src;
    int hits = 0;
  };
  std::vector<Compiled> overrides;
  for (const auto& o : options.overrides) {
    if (o.bits != 2 && o.bits != 3 && o.bits != 4 && o.bits != 5 && o.bits != 6 && o.bits != 8)
      fail("MLX override {}: {} bits is not an MLX width (2, 3, 4, 5, 6, 8)", o.pattern, o.bits);
    try {
      overrides.push_back({std::regex(o.pattern), &o});
    } catch (const std::regex_error& e) {
      fail("MLX override '{}' is not a valid regular expression: {}", o.pattern, e.what());
    }
  }

  for (const auto& r : recipes) {
    MlxPlannedTensor p;
    p.recipe = r;
    p.n_params = 1;
    for (int64_t d : r.shape) p.n_params *= static_cast<uint64_t>(d);
    const int64_t cols = r.shape.empty() ? 0 : r.shape.back();
    const bool fits = r.quantizable && cols % group == 0 && cols % 32 == 0;

    int bits = body;
    std::string rule = "preset", reason = fmt::format("{}-bit body", body);
    if (!r.quantizable) {
      bits = 0;
      rule = "float";
      reason = r.is_bias ? "bias: kept in float" : arch::role_is_norm(r.role) ? "norm: kept in float" : "not a Linear/Embedding weight: kept in float";
    } else if (!fits) {
      bits = 0;
      rule = "float+shape";
      reason = fmt::format("last dimension {} is not a multiple of the group size {}: kept in float", cols, group);
    } else {
      if (options.precision.mixed && (r.role == Role::TokenEmbd || r.role == Role::Output)) {
        bits = std::max(body, options.embedding_bits);
        rule = "mixed:embedding";
        reason = fmt::format("{} at {} bits (mixed precision)", r.role == Role::Output ? "lm_head" : "embeddings", bits);
      }
      if (options.architecture_aware && bits == body) {
        if (r.role == Role::Router || r.role == Role::SharedExpertRouter) {
          bits = 8;
          rule = "arch:router";
          reason = "router at 8 bits: every routing decision depends on it and it is tiny";
        } else if (arch::role_is_shared_expert(r.role)) {
          bits = clamp_bits(body + 2);
          rule = "arch:shared_expert";
          reason = "shared expert runs for every token: two steps above routed experts";
        } else if (mixed_attention && r.layer >= 0 && r.layer < static_cast<int>(hp.layers.size()) &&
                   !hp.layers[r.layer].sliding && arch::role_is_attention(r.role)) {
          bits = clamp_bits(body + 1 == 7 ? 8 : body + 1);
          rule = "arch:global_attention";
          reason = "full-attention layer among sliding-window layers: one step above";
        } else if (r.role == Role::AttnV && n_gqa >= 2) {
          bits = clamp_bits(std::max(body + 2, 6));
          rule = "arch:gqa_kv";
          reason = fmt::format("GQA {}:1 v_proj: small and shared by {} query heads", n_gqa, n_gqa);
        } else if ((r.role == Role::FfnDown || r.role == Role::ExpertDown) && options.precision.mixed &&
                   mlx_use_more_bits(r.layer, hp.n_layer)) {
          bits = clamp_bits(std::max(body + 2, 6));
          rule = "mixed:down_proj";
          reason = "down_proj on a use_more_bits layer (as mlx-lm's mixed recipes)";
        }
      }
      for (auto& o : overrides) {
        if (!std::regex_search(r.mlx_name, o.re)) continue;
        ++o.hits;
        bits = o.src->bits;
        rule = "user";
        reason = fmt::format("override {}={} bits", o.src->pattern, bits);
        break;
      }
    }
    p.quantized = bits > 0;
    p.bits = bits;
    p.group_size = p.quantized ? group : 0;
    p.rule = rule;
    p.reason = reason;
    if (p.quantized) {
      // packed uint32 words + one scale and one bias per group, in the float dtype
      p.bytes = p.n_params * static_cast<uint64_t>(bits) / 8 +
                2 * (p.n_params / static_cast<uint64_t>(group)) * static_cast<uint64_t>(options.float_bytes);
    } else {
      p.bytes = p.n_params * static_cast<uint64_t>(options.float_bytes);
    }
    plan.total_bytes += p.bytes;
    plan.total_params += p.n_params;
    plan.tensors.push_back(std::move(p));
  }
  for (const auto& o : overrides)
    if (o.hits == 0) fail("MLX override {}: the pattern matches no quantizable tensor of this model", o.src->pattern);
  return plan;
}

nlohmann::json MlxPlan::quantization_config() const {
  nlohmann::json q;
  q["group_size"] = precision.group_size;
  q["bits"] = precision.bits;
  q["mode"] = "affine";
  for (const auto& t : tensors) {
    if (!t.recipe.quantizable) continue;
    const std::string path = module_path(t.recipe.mlx_name);
    if (!t.quantized) {
      q[path] = false;  // mlx-lm: a false entry keeps the module in float
    } else if (t.bits != precision.bits || t.group_size != precision.group_size) {
      q[path] = {{"group_size", t.group_size}, {"bits", t.bits}};
    }
  }
  return q;
}

nlohmann::json to_json(const MlxPlan& plan) {
  nlohmann::json j;
  j["format"] = "mlx";
  j["precision"] = plan.precision.name();
  j["architecture_aware"] = plan.architecture_aware;
  j["total_bytes"] = plan.total_bytes;
  j["total_params"] = plan.total_params;
  j["bpw"] = plan.bpw();
  auto& arr = j["tensors"] = nlohmann::json::array();
  for (const auto& t : plan.tensors)
    arr.push_back({{"name", t.recipe.mlx_name},
                   {"role", std::string(arch::role_name(t.recipe.role))},
                   {"layer", t.recipe.layer},
                   {"shape", t.recipe.shape},
                   {"bits", t.bits},
                   {"group_size", t.group_size},
                   {"bytes", t.bytes},
                   {"rule", t.rule},
                   {"reason", t.reason}});
  return j;
}

std::string to_table(const MlxPlan& plan, bool verbose) {
  std::string out = fmt::format("MLX plan {} ({}architecture-aware)\n", plan.precision.name(), plan.architecture_aware ? "" : "not ");
  out += fmt::format("{:<52} {:<18} {:>4} {:>10}  {}\n", "tensor", "role", "bits", "bytes", "reason");
  for (const auto& t : plan.tensors) {
    if (!verbose && !t.quantized && !t.recipe.quantizable) continue;
    out += fmt::format("{:<52} {:<18} {:>4} {:>10}  {}\n", t.recipe.mlx_name, arch::role_name(t.recipe.role),
                       t.quantized ? std::to_string(t.bits) : std::string("-"), t.bytes, t.reason);
  }
  if (!verbose) out += "(norms and biases: float, hidden; --verbose shows them)\n";
  out += fmt::format("total: {} tensors, {} parameters, {} ({:.3f} bits per weight)\n", plan.tensors.size(),
                     format_count(plan.total_params), format_bytes(plan.total_bytes), plan.bpw());
  return out;
}

}  // namespace lp::plan
