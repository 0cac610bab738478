// Mixtral (MixtralForCausalLM): llama with a routed-expert FFN (per-expert HF tensors, stacked in GGUF). Written as
// llama.cpp's "llama" architecture; a llama GGUF with expert_count reads back as mixtral.
#include "arch/families/family.h"

namespace lp::arch::detail {

namespace {
void read_moe(const ConfigReader& in, HParams& hp, MoeLayout&) {
  hp.n_expert = in.count("num_local_experts", 8);
  hp.n_expert_used = in.count("num_experts_per_tok", 2);
  hp.n_ff_expert = hp.n_ff;
  hp.norm_topk_prob = true;  // MixtralSparseMoeBlock always renormalises the top-k weights
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
    f.read_moe = read_moe;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
