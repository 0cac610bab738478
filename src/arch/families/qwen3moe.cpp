// Qwen3-MoE (Qwen3MoeForCausalLM): qwen3 attention with routed experts (per-expert HF tensors, stacked in GGUF;
// decoder_sparse_step / mlp_only_layers pick the MoE layers), expert_feed_forward_length in GGUF.
#include <fmt/format.h>

#include "arch/families/family.h"

namespace lp::arch::detail {

namespace {
void qwen3moe_read_moe(const ConfigReader& in, HParams& hp, MoeLayout& layout) {
  hp.n_expert = in.count("num_experts", 128);
  hp.n_expert_used = in.count("num_experts_per_tok", 8);
  hp.n_ff_expert = in.count("moe_intermediate_size", 768);
  hp.norm_topk_prob = in.boolean("norm_topk_prob", false);
  layout.sparse_step = in.count("decoder_sparse_step", 1);
  if (in.has("mlp_only_layers")) {
    if (!in.cfg["mlp_only_layers"].is_array()) fail("{}: field 'mlp_only_layers' must be a list", in.path);
    for (const auto& v : in.cfg["mlp_only_layers"]) layout.mlp_only.push_back(v.get<int>());
  }
}
void qwen3moe_hf_moe_layout(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il, const LayoutOptions&) {
  const int64_t D = hp.n_embd, F = hp.n_ff_expert, E = hp.n_expert;
  b.add(lp + "mlp.gate.weight", Role::Router, il, {E, D});
  for (int e = 0; e < E; ++e) {
    std::string x = fmt::format("{}mlp.experts.{}.", lp, e);
    b.add(x + "gate_proj.weight", Role::ExpertGate, il, {F, D}, Part::Weight, e);
    b.add(x + "up_proj.weight", Role::ExpertUp, il, {F, D}, Part::Weight, e);
    b.add(x + "down_proj.weight", Role::ExpertDown, il, {D, F}, Part::Weight, e);
  }
}

void qwen3moe_mlx_config(const HParams& hp, nlohmann::json& cfg) {
  cfg["num_experts"] = hp.n_expert;
  cfg["num_experts_per_tok"] = hp.n_expert_used;
  cfg["moe_intermediate_size"] = hp.n_ff_expert;
  cfg["norm_topk_prob"] = hp.norm_topk_prob;
  if (!cfg.contains("decoder_sparse_step")) cfg["decoder_sparse_step"] = 1;
  if (!cfg.contains("mlp_only_layers")) cfg["mlp_only_layers"] = nlohmann::json::array();
}
}  // namespace

const FamilyDesc& qwen3moe_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f = qwen3_family();
    f.family = Family::Qwen3Moe;
    f.name = "qwen3moe";
    f.model_types = {"qwen3_moe"};
    f.architectures = {"Qwen3MoeForCausalLM"};
    f.gguf_arch = "qwen3moe";
    f.mlx_model_type = "qwen3_moe";
    f.moe = true;
    f.read_moe = qwen3moe_read_moe;
    f.gguf_expert_ff = true;
    f.hf_moe_layout = qwen3moe_hf_moe_layout;
    f.mlx_config = qwen3moe_mlx_config;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
