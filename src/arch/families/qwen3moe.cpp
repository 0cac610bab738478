// Qwen3-MoE (Qwen3MoeForCausalLM): qwen3 attention with routed experts (per-expert HF tensors, stacked in GGUF;
// decoder_sparse_step / mlp_only_layers pick the MoE layers), expert_feed_forward_length in GGUF.
#include "arch/families/family.h"

namespace lp::arch::detail {

namespace {
void read_moe(const ConfigReader& in, HParams& hp, MoeLayout& layout) {
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
    f.read_moe = read_moe;
    f.gguf_expert_ff = true;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
