// Mixtral (MixtralForCausalLM): llama with a routed-expert FFN (per-expert HF tensors, stacked in GGUF). Written as
// llama.cpp's "llama" architecture; a llama GGUF with expert_count reads back as mixtral.
#include <fmt/format.h>

#include "arch/families/family.h"

namespace lp::arch::detail {

namespace {
void mixtral_read_moe(const ConfigReader& in, HParams& hp, MoeLayout&) {
  hp.n_expert = in.count("num_local_experts", 8);
  hp.n_expert_used = in.count("num_experts_per_tok", 2);
  hp.n_ff_expert = hp.n_ff;
  hp.norm_topk_prob = true;  // MixtralSparseMoeBlock always renormalises the top-k weights
}
void mixtral_hf_moe_layout(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il, const LayoutOptions&) {
  const int64_t D = hp.n_embd, F = hp.n_ff_expert, E = hp.n_expert;
  b.add(lp + "block_sparse_moe.gate.weight", Role::Router, il, {E, D});
  for (int e = 0; e < E; ++e) {
    std::string x = fmt::format("{}block_sparse_moe.experts.{}.", lp, e);
    b.add(x + "w1.weight", Role::ExpertGate, il, {F, D}, Part::Weight, e);
    b.add(x + "w2.weight", Role::ExpertDown, il, {D, F}, Part::Weight, e);
    b.add(x + "w3.weight", Role::ExpertUp, il, {F, D}, Part::Weight, e);
  }
}

void mixtral_mlx_config(const HParams& hp, nlohmann::json& cfg) {
  cfg["num_local_experts"] = hp.n_expert;
  cfg["num_experts_per_tok"] = hp.n_expert_used;
}
}  // namespace

const FamilyDesc& mixtral_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f = llama_family();
    f.family = Family::Mixtral;
    f.name = "mixtral";
    f.model_types = {"mixtral"};
    f.architectures = {"MixtralForCausalLM"};
    f.mlx_model_type = "mixtral";
    f.moe = true;
    f.default_rms_eps = 1e-5;
    f.default_rope_theta = 1e6;
    f.sliding = SlidingRule::AllWhenWindow;
    f.read_moe = mixtral_read_moe;
    f.hf_moe_layout = mixtral_hf_moe_layout;
    f.mlx_config = mixtral_mlx_config;
    f.mlx_moe_block = "block_sparse_moe";
    f.mlx_attention_bias = false;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
