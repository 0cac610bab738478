// Gemma 4 text models (Gemma4ForCausalLM, model_type gemma4_text; and the text model of
// Gemma4ForConditionalGeneration, tensors under model.language_model., vision/audio towers ignored). What sets it
// apart from Gemma 3, as transformers' modeling_gemma4.py and llama.cpp's gemma4 graph compute it:
// - per-layer embeddings (PLE, E2B/E4B): a second token table embed_tokens_per_layer [vocab, n_layer * P] (P =
//   hidden_size_per_layer_input) scaled by sqrt(P), added to a projection of the scaled input embedding
//   (per_layer_model_projection / sqrt(n_embd), RMS-normed by per_layer_projection_norm), times 1/sqrt(2); each layer
//   gates its slice in after the FFN (gelu(per_layer_input_gate(h)) * slice -> per_layer_projection -> RMSNorm ->
//   residual add);
// - KV sharing: the last num_kv_shared_layers layers have no k/v projections and attend over the KV of the last
//   non-shared layer of their own type (llama.cpp: layer first_shared - 1 for full, first_shared - 2 for sliding);
// - full-attention layers have their own head size (global_head_dim) and "proportional" rope with
//   partial_rotary_factor (llama.cpp: a rope_freqs tensor of 1 / 1e30 factors), sliding layers rope_theta 10000;
// - attention scale 1 (q and k are RMS-normed; v is RMS-normed without weight), plain-w RMSNorms (no 1 + w),
//   a layer_scalar multiplying each layer's output, final logit softcapping, optional double-wide MLP on the
//   KV-shared layers and k = v projections on full layers (attention_k_eq_v, 26B/31B).
// llama.cpp's architecture "gemma4" (convert_hf_to_gguf.py Gemma4Model).
#include <fmt/format.h>

#include "arch/families/family.h"

namespace lp::arch::detail {

namespace {

void gemma4_read_config(const ConfigReader& in, HParams& hp) {
  const std::string& path = in.path;
  if (in.boolean("enable_moe_block", false))
    fail("{}: enable_moe_block = true (the Gemma 4 26B-A4B MoE) is not supported yet; the dense Gemma 4 shapes are", path);
  if (in.string("use_bidirectional_attention") == "all")
    fail("{}: use_bidirectional_attention = \"all\" (an embedding model) is not a causal LM; not supported", path);
  // Gemma4TextConfig's defaults (the E2B shapes) for absent fields.
  hp.n_embd_per_layer = in.count("hidden_size_per_layer_input", 256);
  if (hp.n_embd_per_layer > 0) {
    const int64_t v = in.integer("vocab_size_per_layer_input", hp.n_vocab);
    if (v != hp.n_vocab)
      fail("{}: vocab_size_per_layer_input ({}) differs from vocab_size ({}): llama.cpp's gemma4 reads one table row per "
           "vocabulary token", path, v, hp.n_vocab);
  }
  hp.n_kv_shared_layers = in.count("num_kv_shared_layers", 0);
  hp.head_dim_global = in.count("global_head_dim", 512);
  if (hp.head_dim_global <= 0 || hp.head_dim_global % 2 != 0) fail("{}: global_head_dim must be a positive even number", path);
  const bool k_eq_v = in.boolean("attention_k_eq_v", false);
  const int global_kv = in.count("num_global_key_value_heads", hp.n_head_kv);
  if (k_eq_v && (global_kv <= 0 || hp.n_head % global_kv != 0))
    fail("{}: num_attention_heads ({}) is not a multiple of num_global_key_value_heads ({})", path, hp.n_head, global_kv);
  hp.double_wide_mlp = in.boolean("use_double_wide_mlp", false);
  hp.layer_scalar = true;

  // rope_parameters per layer type; transformers' defaults when absent. Only "proportional" full-attention rope is
  // what llama.cpp's converter knows (it asserts it).
  hp.rope_partial_global = 0.25;
  hp.rope_theta = 1e6;
  hp.rope_theta_local = 10000.0;
  if (in.has("rope_parameters")) {
    const nlohmann::json& rp = in.cfg["rope_parameters"];
    if (!rp.is_object() || !rp.contains("full_attention") || !rp["full_attention"].is_object())
      fail("{}: field 'rope_parameters' must hold a 'full_attention' object", path);
    const ConfigReader full{rp["full_attention"], path};
    if (full.string("rope_type", "default") != "proportional")
      fail("{}: rope_parameters.full_attention.rope_type '{}' (llama.cpp's gemma4 needs \"proportional\")", path,
           full.string("rope_type", "default"));
    hp.rope_partial_global = full.number("partial_rotary_factor", 1.0);
    hp.rope_theta = full.number("rope_theta", 1e6);
    if (rp.contains("sliding_attention") && rp["sliding_attention"].is_object()) {
      const ConfigReader swa{rp["sliding_attention"], path};
      if (swa.string("rope_type", "default") != "default")
        fail("{}: rope_parameters.sliding_attention.rope_type '{}' is not supported (default only)", path,
             swa.string("rope_type"));
      hp.rope_theta_local = swa.number("rope_theta", 10000.0);
    }
  }
  if (hp.rope_partial_global <= 0 || hp.rope_partial_global > 1)
    fail("{}: rope_parameters.full_attention.partial_rotary_factor must be in (0, 1]", path);
  hp.rope_scaling = nlohmann::json();  // proportional rope is carried by the rope_freqs tensor, not rope scaling
  hp.rope = RopeScaling{};
  hp.attn_scale = 1.0f;  // Gemma4Attention.scaling = 1.0 (q/k norms instead of a pre-attention scale)
  hp.query_pre_attn_scalar = 0;

  const int first_shared = hp.n_layer - hp.n_kv_shared_layers;
  if (hp.n_kv_shared_layers > 0) {
    // llama.cpp maps a shared layer to layer first_shared - 1 (full) or first_shared - 2 (sliding); transformers to
    // the last non-shared layer of the same type. They agree only when those two layers have those types.
    if (first_shared < 2 || hp.layers[first_shared - 1].sliding || !hp.layers[first_shared - 2].sliding)
      fail("{}: num_kv_shared_layers = {} needs layer {} full-attention and layer {} sliding (the KV sources llama.cpp "
           "uses for the shared layers)", path, hp.n_kv_shared_layers, first_shared - 1, first_shared - 2);
  }
  for (int i = 0; i < hp.n_layer; ++i) {
    LayerKind& k = hp.layers[i];
    k.rope_theta = k.sliding ? hp.rope_theta_local : hp.rope_theta;
    k.rope_scaled = false;
    if (!k.sliding) k.head_dim = hp.head_dim_global;
    if (!k.sliding && k_eq_v) {
      k.k_eq_v = true;
      k.n_head_kv = global_kv;
    }
    k.kv_shared = hp.n_kv_shared_layers > 0 && i >= first_shared;
    if (hp.double_wide_mlp && k.kv_shared) k.n_ff = 2 * hp.n_ff;
  }
}

// Gemma4Model.set_gguf_parameters (on top of Gemma3Model's and TextModel's keys).
void gemma4_gguf_keys(const HParams& hp, std::vector<GgufKv>& kv) {
  const std::string a = hp.gguf_arch;
  auto put = [&](const std::string& suffix, formats::GgufValue v) {
    const std::string key = a + "." + suffix;
    for (auto& e : kv)
      if (e.key == key) {
        e.value = std::move(v);
        return;
      }
    kv.push_back({key, std::move(v)});
  };
  auto u32 = [](int64_t v) { return static_cast<uint32_t>(v); };
  if (hp.sliding_window > 0) put("attention.sliding_window", u32(hp.sliding_window));
  put("attention.shared_kv_layers", u32(hp.n_kv_shared_layers));
  put("embedding_length_per_layer_input", u32(hp.n_embd_per_layer));
  std::vector<bool> swa;
  std::vector<int32_t> n_ff, n_kv;
  bool ff_varies = false, kv_varies = false;
  for (int i = 0; i < hp.n_layer; ++i) {
    swa.push_back(hp.layers[i].sliding);
    n_ff.push_back(hp.layer_n_ff(i));
    n_kv.push_back(hp.layer_n_head_kv(i));
    ff_varies |= hp.layer_n_ff(i) != hp.n_ff;
    kv_varies |= hp.layer_n_head_kv(i) != hp.n_head_kv;
  }
  put("attention.sliding_window_pattern", swa);
  put("attention.key_length", u32(hp.head_dim_global));
  put("attention.value_length", u32(hp.head_dim_global));
  put("attention.key_length_swa", u32(hp.head_dim));
  put("attention.value_length_swa", u32(hp.head_dim));
  if (hp.double_wide_mlp || ff_varies) put("feed_forward_length", n_ff);
  if (kv_varies) put("attention.head_count_kv", n_kv);
  put("rope.dimension_count", u32(hp.head_dim_global));  // rotary dims are restricted by rope_freqs instead
  put("rope.dimension_count_swa", u32(hp.head_dim));
}

}  // namespace

const FamilyDesc& gemma4_family() {
  static const FamilyDesc d = [] {
    FamilyDesc f;
    f.family = Family::Gemma4;
    f.name = "gemma4";
    f.model_types = {"gemma4_text", "gemma4"};
    f.architectures = {"Gemma4ForCausalLM", "Gemma4ForConditionalGeneration"};
    f.wrapper_model_type = "gemma4";
    f.gguf_arch = "gemma4";
    f.mlx_model_type = "gemma4_text";
    f.mlx_supported = false;
    f.default_n_head = 8;            // Gemma4TextConfig
    f.default_n_head_kv = 4;
    f.default_vocab = 262144;
    f.default_head_dim = 256;
    f.default_n_ctx = 131072;
    f.default_rope_theta = 1e6;
    f.default_tied = true;
    f.default_sliding_window = 512;
    f.qk_norm = true;
    f.sliding = SlidingRule::Period;
    f.swa_period = 6;
    f.local_rope = true;
    f.ffn_act = FfnAct::GeluTanhGlu;
    f.hidden_act_key = "hidden_activation";
    f.hidden_act_default = "gelu_pytorch_tanh";
    f.embed_scale = true;
    f.norm_plus_one = false;         // Gemma4RMSNorm scales by w (the converter's norm_shift is 0)
    f.gguf_final_softcap = true;
    f.trim_embd_to_tokenizer = true; // Gemma3Model.modify_tensors (embed_tokens only, not the per-layer table)
    f.sandwich_norms = true;
    f.read_config = gemma4_read_config;
    f.gguf_keys = gemma4_gguf_keys;
    return f;
  }();
  return d;
}

}  // namespace lp::arch::detail
