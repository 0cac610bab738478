// Qwen 3.5 dense (Qwen3_5ForCausalLM, model_type qwen3_5_text): a hybrid of Gated DeltaNet linear-attention layers
// and, every full_attention_interval-th layer (4), gated full attention (q_proj yields the query and a per-head
// sigmoid output gate; q/k RMSNorm; partial rotary with interleaved multimodal sections). Every RMSNorm except the
// DeltaNet output norm is zero-centred ((1 + w), stored as w + 1 in GGUF, as llama.cpp's Qwen3NextModel writes it).
// llama.cpp's architecture "qwen35": its converter reorders the value heads of the linear-attention weights
// (arch::VHeadOrder) and stores A as -exp(A_log). The CPU engine runs it from GGUF (engine/linear_attention.cpp).
#include "arch/families/family.h"

namespace lp::arch::detail {

const FamilyDesc& qwen35_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f;
    f.family = Family::Qwen35;
    f.name = "qwen35";
    f.model_types = {"qwen3_5_text", "qwen3_5"};
    f.architectures = {"Qwen3_5ForCausalLM", "Qwen3_5ForConditionalGeneration"};
    // The released checkpoints are the multimodal wrapper: text fields in text_config, the language model's tensors
    // under model.language_model., the vision tower (model.visual.) ignored, mtp.* at the top level.
    f.wrapper_model_type = "qwen3_5";
    f.gguf_arch = "qwen35";
    f.mlx_model_type = "qwen3_5";
    f.default_head_dim = 256;        // Qwen3_5TextConfig
    f.default_n_ctx = 32768;
    f.default_rope_theta = 1e7;
    f.default_tied = false;
    f.qk_norm = true;
    f.norm_plus_one = true;
    f.linear_attention = true;
    f.gguf_ffn_norm = "post_attention_norm";  // llama.cpp's qwen35 names the pre-FFN norm attn_post_norm
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
