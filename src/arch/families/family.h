// One model family, described once. Every stage reads this description: config.json parsing (arch/hparams.cpp),
// GGUF metadata in both directions (arch/gguf_meta.cpp: the converter writes it, the engine and hparams_from_gguf
// read it back), tensor naming and row transforms (arch/gguf_names.cpp), and the engine's model builder
// (engine/model.cpp, via hparams_from_gguf). Each family is one file in this folder (llama.cpp, qwen3moe.cpp, ...)
// that returns its FamilyDesc; registry.cpp lists them. What cannot be written as data (a family's own config
// fields, such as an MoE block) is a small hook in the same file.
#pragma once
#include <optional>
#include <string_view>
#include <vector>

#include "arch/arch.h"
#include "arch/config_reader.h"
#include "arch/layout.h"

namespace lp::arch::detail {

// Which layers use sliding-window attention when config.json has no `layer_types` list, and (for Period)
// when a GGUF is read back (llama.cpp's set_swa_pattern: layer i slides when i % period < period - 1).
enum class SlidingRule : uint8_t {
  None,           // never (llama)
  AllWhenWindow,  // every layer when sliding_window is set (mistral, mixtral)
  MaxWindow,      // use_sliding_window: layers from max_window_layers on (qwen2, qwen3, qwen3moe)
  Period,         // every swa_period-th layer is global, the others slide (gemma3, gpt-oss)
};

// Which sliding-window keys the GGUF carries (convert_hf_to_gguf.py per family).
enum class GgufSwaKeys : uint8_t {
  None,
  Always,     // {arch}.attention.sliding_window (gpt-oss)
  WhenSliding // sliding_window when a layer slides, plus sliding_window_pattern when it is not swa_period (gemma3)
};

// Routed-expert layout the family's config fields describe (filled by FamilyDesc::read_moe).
struct MoeLayout {
  int sparse_step = 1;          // every sparse_step-th layer is MoE (qwen3moe decoder_sparse_step)
  std::vector<int> mlp_only;    // layers with a dense FFN (qwen3moe mlp_only_layers)
};

struct FamilyDesc {
  // ---- Identity
  Family family;
  std::string_view name;                        // our stable name
  std::vector<std::string_view> model_types;    // config.json model_type values (first: the one we write back)
  std::vector<std::string_view> architectures;  // config.json architectures[] values
  std::string_view gguf_arch;                   // llama.cpp general.architecture
  std::string_view mlx_model_type;              // mlx-lm models/<name>.py (via its remapping)
  bool gguf_canonical = true;                   // the family a GGUF of gguf_arch reads back as (mistral: no, it is llama)
  bool moe = false;                             // routed experts in every (or most) layers

  // ---- config.json defaults (the transformers configuration class's, for absent fields)
  std::optional<int64_t> default_n_head, default_n_head_kv, default_vocab;  // unset: the field is required
  int64_t default_head_dim = 0;                 // 0: hidden_size / num_attention_heads
  int64_t default_n_ctx = 2048;
  double default_rms_eps = 1e-6;
  double default_rope_theta = 10000.0;
  const char* default_rope_scaling = nullptr;   // JSON used when the config has no rope_scaling key (gpt-oss)
  bool default_tied = false;
  bool default_attention_bias = false;
  int64_t default_sliding_window = 0;
  // Multimodal wrapper: when model_type is `wrapper_model_type`, the text model's fields are in text_config and its
  // tensors under "language_model." (gemma3); model_type is then written as model_types.front().
  std::string_view wrapper_model_type;

  // ---- Attention
  bool qkv_bias = false;                        // q/k/v biases always, and no o bias (qwen2)
  bool qk_norm = false;                         // per-head RMSNorm on q and k
  bool attn_sinks = false;                      // learned per-head sink logits (gpt-oss)
  bool permute_qk = false;                      // llama.cpp's LlamaModel.permute of q/k rows; then "normal" rope
  float default_query_pre_attn_scalar = 0;      // > 0: read query_pre_attn_scalar (gemma3)
  SlidingRule sliding = SlidingRule::None;
  int swa_period = 0;                           // Period rule's default (gemma3 6, gpt-oss 2)
  bool pattern_in_config = false;               // config.json names the period (gemma3 sliding_window_pattern)
  bool local_rope = false;                      // sliding layers use rope_local_base_freq (10000), unscaled (gemma3)

  // ---- FFN
  FfnAct ffn_act = FfnAct::SiluGlu;
  const char* hidden_act_key = "hidden_act";
  const char* hidden_act_default = "silu";
  RouterGating router_gating = RouterGating::SoftmaxThenTopK;
  bool expert_biases = false;                   // router and expert biases, clamped SwiGLU constants (gpt-oss)
  void (*read_moe)(const ConfigReader& in, HParams& hp, MoeLayout& layout) = nullptr;  // MoE config fields
  bool native_mxfp4_experts = false;            // quantization_config mxfp4 means MXFP4 expert blocks (gpt-oss)

  // ---- HF checkpoint layout (arch/layout.cpp) and mlx-lm (arch/mlx_names.cpp)
  bool sandwich_norms = false;                  // post-attention, pre- and post-FFN norms (gemma3)
  bool hf_stacked_experts = false;              // experts stored stacked (gate_up interleaved) in the checkpoint (gpt-oss)
  bool hf_fused_expert_halves = false;          // stacked experts as transformers 5 fuses them: gate_up [E, 2F, D] = [gate; up]
                                                // per expert, down [E, D, F] (qwen35moe; also per-expert tensors)
  // The routed-expert tensors of one MoE layer (`lp`: "model.layers.N."), as transformers names them.
  void (*hf_moe_layout)(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il, const LayoutOptions& opt) = nullptr;
  std::string_view mlx_moe_block = "mlp";       // mlx-lm's module holding switch_mlp (mixtral: block_sparse_moe)
  bool mlx_attention_bias = false;              // mlx-lm's ModelArgs reads attention_bias (llama, mistral, qwen2)
  void (*mlx_config)(const HParams& hp, nlohmann::json& cfg) = nullptr;  // fields mlx-lm's ModelArgs reads

  // ---- Gemma conventions
  bool embed_scale = false;                     // embeddings times sqrt(n_embd)
  bool norm_plus_one = false;                   // RMSNorm uses (1 + w); llama.cpp stores w + 1

  // ---- Hybrid linear attention (qwen35): Gated DeltaNet layers per config `layer_types` (or every layer but each
  // full_attention_interval-th), the linear_* config fields, gated full attention and partial rotary
  bool linear_attention = false;

  // ---- GGUF (keys and tensors beyond the common ones)
  bool gguf_vocab_and_rope_dims = false;        // {arch}.vocab_size and rope.dimension_count (llama)
  bool gguf_expert_ff = false;                  // {arch}.expert_feed_forward_length
  bool gguf_shared_expert_ff = false;           // {arch}.expert_shared_feed_forward_length (qwen35moe)
  bool gguf_final_softcap = false;              // {arch}.final_logit_softcapping when set
  GgufSwaKeys gguf_swa = GgufSwaKeys::None;
  const char* gguf_ffn_norm = "ffn_norm";       // gpt-oss: its pre-FFN norm is llama.cpp's post_attention_norm
  bool trim_embd_to_tokenizer = false;          // token_embd rows past the tokenizer's size are dropped (gemma3)

  // ---- Family hooks (gemma4): config fields read after the common ones, GGUF keys added (or replaced) after the
  // common ones
  void (*read_config)(const ConfigReader& in, HParams& hp) = nullptr;
  void (*gguf_keys)(const HParams& hp, std::vector<GgufKv>& kv) = nullptr;
  bool mlx_supported = true;                    // mlx_tensors/mlx_config know the family

  // ---- Engine
  bool engine_runs = true;                      // the CPU engine runs this family (GGUF and HF/MLX folders)
};

const std::vector<FamilyDesc>& family_table();  // registry.cpp
const FamilyDesc& family_info(Family f);

// One function per family file.
const FamilyDesc& llama_family();
const FamilyDesc& mistral_family();
const FamilyDesc& qwen2_family();
const FamilyDesc& qwen3_family();
const FamilyDesc& qwen3moe_family();
const FamilyDesc& mixtral_family();
const FamilyDesc& gpt_oss_family();
const FamilyDesc& gemma3_family();
const FamilyDesc& qwen35_family();
const FamilyDesc& qwen35moe_family();
const FamilyDesc& gemma4_family();

}  // namespace lp::arch::detail
