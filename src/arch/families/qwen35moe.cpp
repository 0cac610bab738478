// Qwen 3.5 MoE (Qwen3_5MoeForCausalLM, model_type qwen3_5_moe_text): the qwen35 hybrid (Gated DeltaNet layers and
// every full_attention_interval-th layer gated full attention) with a routed MoE block in every layer plus one
// sigmoid-gated shared expert (transformers' Qwen3_5MoeSparseMoeBlock: mlp.gate, mlp.experts.N.*, mlp.shared_expert.*,
// mlp.shared_expert_gate; experts fused or per expert, see qwen35moe_hf_moe_layout). llama.cpp's architecture "qwen35moe" (its converter's Qwen3_5MoeTextModel): experts stacked
// into ffn_{gate,up,down}_exps, the shared expert as ffn_{gate,up,down}_shexp and its gate ffn_gate_inp_shexp,
// keys expert_feed_forward_length and expert_shared_feed_forward_length; llama.cpp normalises the top-k weights
// (norm_w = true) whatever the config says, so a config with norm_topk_prob = false is refused.
#include <fmt/format.h>

#include "arch/families/family.h"

namespace lp::arch::detail {

namespace {

void qwen35moe_read_moe(const ConfigReader& in, HParams& hp, MoeLayout&) {
  // Qwen3_5MoeTextConfig's defaults (the 35B-A3B shapes).
  hp.n_expert = in.count("num_experts", 256);
  hp.n_expert_used = in.count("num_experts_per_tok", 8);
  hp.n_ff_expert = in.count("moe_intermediate_size", 512);
  hp.n_ff_shared = in.count("shared_expert_intermediate_size", 512);
  hp.n_shared_expert = 1;
  hp.norm_topk_prob = in.boolean("norm_topk_prob", true);
  if (hp.n_ff_expert <= 0 || hp.n_ff_shared <= 0)
    fail("{}: moe_intermediate_size and shared_expert_intermediate_size must be positive", in.path);
  if (!hp.norm_topk_prob)
    fail("{}: norm_topk_prob = false is not supported (llama.cpp's qwen35moe always normalises the top-k weights)", in.path);
}

// Routed experts either fused as transformers 5 saves them (the released Qwen 3.5 MoE checkpoints: gate_up_proj
// [E, 2F, D] holding each expert's gate rows then its up rows, down_proj [E, D, F], no .weight suffix) or one
// tensor per expert (older transformers, Qwen3-Next style); llama.cpp's converter accepts both.
void qwen35moe_hf_moe_layout(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il, const LayoutOptions& opt) {
  const int64_t D = hp.n_embd, F = hp.n_ff_expert, S = hp.n_ff_shared, E = hp.n_expert;
  b.add(lp + "mlp.gate.weight", Role::Router, il, {E, D});
  if (opt.fused_experts) {
    b.add(lp + "mlp.experts.gate_up_proj", Role::ExpertGateUp, il, {E, 2 * F, D});
    b.add(lp + "mlp.experts.down_proj", Role::ExpertDown, il, {E, D, F});
  }
  for (int e = 0; e < E && !opt.fused_experts; ++e) {
    std::string x = fmt::format("{}mlp.experts.{}.", lp, e);
    b.add(x + "gate_proj.weight", Role::ExpertGate, il, {F, D}, Part::Weight, e);
    b.add(x + "up_proj.weight", Role::ExpertUp, il, {F, D}, Part::Weight, e);
    b.add(x + "down_proj.weight", Role::ExpertDown, il, {D, F}, Part::Weight, e);
  }
  b.add(lp + "mlp.shared_expert.gate_proj.weight", Role::SharedExpertGate, il, {S, D});
  b.add(lp + "mlp.shared_expert.up_proj.weight", Role::SharedExpertUp, il, {S, D});
  b.add(lp + "mlp.shared_expert.down_proj.weight", Role::SharedExpertDown, il, {D, S});
  b.add(lp + "mlp.shared_expert_gate.weight", Role::SharedExpertRouter, il, {1, D});
}

}  // namespace

const FamilyDesc& qwen35moe_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f = qwen35_family();
    f.family = Family::Qwen35Moe;
    f.name = "qwen35moe";
    f.model_types = {"qwen3_5_moe_text", "qwen3_5_moe"};
    f.architectures = {"Qwen3_5MoeForCausalLM", "Qwen3_5MoeForConditionalGeneration"};
    f.wrapper_model_type = "qwen3_5_moe";  // the released multimodal wrapper, as qwen35
    f.gguf_arch = "qwen35moe";
    f.mlx_model_type = "qwen3_5_moe";
    f.default_head_dim = 256;  // Qwen3_5MoeTextConfig
    f.moe = true;
    f.read_moe = qwen35moe_read_moe;
    f.hf_moe_layout = qwen35moe_hf_moe_layout;
    f.gguf_expert_ff = true;
    f.gguf_shared_expert_ff = true;
    f.hf_fused_expert_halves = true;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
