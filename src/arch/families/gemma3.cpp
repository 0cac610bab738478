// Gemma 3 (Gemma3ForCausalLM, and the text model of Gemma3ForConditionalGeneration): local/global attention
// (every sliding_window_pattern-th layer global, 6 by default; local layers use rope_local_base_freq, unscaled),
// GeGLU, (1 + w) RMSNorms (stored as w + 1 in GGUF), q/k norms, embeddings scaled by sqrt(n_embd), and the
// defaults of Gemma3TextConfig for the fields a released config leaves out.
#include "arch/families/family.h"

namespace lp::arch::detail {

namespace {
void gemma3_mlx_config(const HParams& hp, nlohmann::json& cfg) {
  cfg["rope_global_base_freq"] = hp.rope_theta;
  cfg["rope_local_base_freq"] = hp.rope_theta_local;
  cfg["query_pre_attn_scalar"] = hp.query_pre_attn_scalar;
  cfg["sliding_window"] = hp.sliding_window;
  cfg["sliding_window_pattern"] = hp.sliding_window_pattern;
  cfg["hidden_activation"] = hp.hidden_act;
}
}  // namespace

const FamilyDesc& gemma3_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f;
    f.family = Family::Gemma3;
    f.name = "gemma3";
    f.model_types = {"gemma3_text", "gemma3"};
    f.architectures = {"Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"};
    f.gguf_arch = "gemma3";
    f.mlx_model_type = "gemma3_text";
    f.default_n_head = 8;
    f.default_n_head_kv = 4;
    f.default_vocab = 262208;
    f.default_head_dim = 256;
    f.default_n_ctx = 131072;
    f.default_rope_theta = 1e6;
    f.default_tied = true;
    f.default_sliding_window = 4096;
    f.wrapper_model_type = "gemma3";
    f.qk_norm = true;
    f.default_query_pre_attn_scalar = 256;
    f.sliding = SlidingRule::Period;
    f.swa_period = 6;
    f.pattern_in_config = true;
    f.local_rope = true;
    f.ffn_act = FfnAct::GeluTanhGlu;
    f.hidden_act_key = "hidden_activation";
    f.hidden_act_default = "gelu_pytorch_tanh";
    f.embed_scale = true;
    f.norm_plus_one = true;
    f.gguf_final_softcap = true;
    f.gguf_swa = GgufSwaKeys::WhenSliding;
    f.trim_embd_to_tokenizer = true;
    f.sandwich_norms = true;
    f.mlx_config = gemma3_mlx_config;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
