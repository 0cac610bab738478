// config.json and generation_config.json with each family's real field set (transformers' configuration_*.py
// and the released checkpoints; qwen3, qwen3moe, gpt-oss and gemma3 match the trained fixtures key for key).
#include "testgen/families.h"
#include "testgen/generate.h"

namespace lp::testgen {
namespace {

using nlohmann::json;

constexpr const char* kTransformersVersion = "4.55.0";

const char* torch_dtype(TensorDtype d) {
  switch (d) {
    case TensorDtype::F16: return "float16";
    case TensorDtype::F32: return "float32";
    default: return "bfloat16";
  }
}

json ids_json(const TokenLayout& layout, const std::vector<std::string>& tokens) {
  if (tokens.size() == 1) return layout.id(tokens[0]);
  json out = json::array();
  for (const auto& t : tokens) out.push_back(layout.id(t));
  return out;
}

json optional_id(const TokenLayout& layout, const std::string& token) {
  return token.empty() ? json(nullptr) : json(layout.id(token));
}

json window_or_null(int64_t w) { return w > 0 ? json(w) : json(nullptr); }

// Shared by the Llama-derived families (llama, mistral, qwen2, qwen3, qwen3moe, mixtral).
json common_fields(const ModelShape& s, const GenerateOptions& o, const char* model_type, const char* architecture) {
  return {{"architectures", {architecture}},
          {"model_type", model_type},
          {"hidden_size", s.hidden},
          {"intermediate_size", s.ffn},
          {"num_hidden_layers", s.layers},
          {"num_attention_heads", s.heads},
          {"num_key_value_heads", s.kv_heads},
          {"hidden_act", "silu"},
          {"initializer_range", 0.02},
          {"attention_dropout", 0.0},
          {"tie_word_embeddings", s.tie_embeddings},
          {"torch_dtype", torch_dtype(o.dtype)},
          {"use_cache", true},
          {"vocab_size", s.vocab},
          {"transformers_version", kTransformersVersion}};
}

json llama_config(const ModelShape& s, const GenerateOptions& o) {
  json c = common_fields(s, o, "llama", "LlamaForCausalLM");
  c["head_dim"] = s.head_dim;
  c["attention_bias"] = false;
  c["mlp_bias"] = false;
  c["pretraining_tp"] = 1;
  c["rms_norm_eps"] = 1e-5;
  c["rope_theta"] = 500000.0;
  if (o.rope_scaling) {
    c["rope_scaling"] = {{"factor", 32.0},
                         {"high_freq_factor", 4.0},
                         {"low_freq_factor", 1.0},
                         {"original_max_position_embeddings", 8192},
                         {"rope_type", "llama3"}};
    c["max_position_embeddings"] = 131072;
  } else {
    c["rope_scaling"] = nullptr;
    c["max_position_embeddings"] = 8192;
  }
  return c;
}

json mistral_like_config(const ModelShape& s, const GenerateOptions& o, bool moe) {
  json c = moe ? common_fields(s, o, "mixtral", "MixtralForCausalLM")
               : common_fields(s, o, "mistral", "MistralForCausalLM");
  if (s.head_dim * s.heads != s.hidden) c["head_dim"] = s.head_dim;  // absent when implied, as released
  c["max_position_embeddings"] = 32768;
  c["rms_norm_eps"] = 1e-5;
  c["rope_theta"] = 1000000.0;
  c["sliding_window"] = window_or_null(s.sliding_window);
  if (moe) {
    c["num_local_experts"] = s.experts;
    c["num_experts_per_tok"] = s.experts_per_tok;
    c["output_router_logits"] = false;
    c["router_aux_loss_coef"] = 0.02;
    c["router_jitter_noise"] = 0.0;
  }
  return c;
}

json qwen2_config(const ModelShape& s, const GenerateOptions& o) {
  json c = common_fields(s, o, "qwen2", "Qwen2ForCausalLM");
  c["max_position_embeddings"] = 32768;
  c["max_window_layers"] = s.layers;
  c["rms_norm_eps"] = 1e-6;
  c["rope_scaling"] = nullptr;
  c["rope_theta"] = 1000000.0;
  c["sliding_window"] = s.sliding_window > 0 ? s.sliding_window : 32768;
  c["use_sliding_window"] = s.sliding_window > 0;
  return c;
}

json qwen3_config(const ModelShape& s, const GenerateOptions& o, bool moe) {
  json c = moe ? common_fields(s, o, "qwen3_moe", "Qwen3MoeForCausalLM")
               : common_fields(s, o, "qwen3", "Qwen3ForCausalLM");
  c["head_dim"] = s.head_dim;
  c["max_position_embeddings"] = 40960;
  c["rms_norm_eps"] = 1e-6;
  c["rope_theta"] = 1000000.0;
  c["rope_scaling"] = nullptr;
  c["attention_bias"] = false;
  c["use_sliding_window"] = s.sliding_window > 0;
  c["sliding_window"] = window_or_null(s.sliding_window);
  c["max_window_layers"] = s.layers;
  if (moe) {
    c["intermediate_size"] = 3 * s.ffn;  // the dense FFN width (unused: every layer is sparse)
    c["moe_intermediate_size"] = s.ffn;
    c["num_experts"] = s.experts;
    c["num_experts_per_tok"] = s.experts_per_tok;
    c["norm_topk_prob"] = true;
    c["decoder_sparse_step"] = 1;
    c["mlp_only_layers"] = json::array();
    c["output_router_logits"] = false;
    c["router_aux_loss_coef"] = 0.001;
  }
  return c;
}

json gpt_oss_layer_types(const ModelShape& s) {
  json types = json::array();
  for (int64_t i = 0; i < s.layers; ++i) types.push_back(i % 2 == 0 ? "sliding_attention" : "full_attention");
  return types;
}

json gpt_oss_config(const ModelShape& s, const GenerateOptions& o) {
  json c = {{"architectures", {"GptOssForCausalLM"}},
            {"model_type", "gpt_oss"},
            {"hidden_size", s.hidden},
            {"intermediate_size", s.ffn},
            {"num_hidden_layers", s.layers},
            {"num_attention_heads", s.heads},
            {"num_key_value_heads", s.kv_heads},
            {"head_dim", s.head_dim},
            {"vocab_size", s.vocab},
            {"num_local_experts", s.experts},
            {"num_experts_per_tok", s.experts_per_tok},
            {"experts_per_token", s.experts_per_tok},
            {"sliding_window", s.sliding_window > 0 ? s.sliding_window : 128},
            {"layer_types", gpt_oss_layer_types(s)},
            {"rope_theta", 150000.0},
            {"initial_context_length", 4096},
            {"rms_norm_eps", 1e-5},
            {"tie_word_embeddings", s.tie_embeddings},
            {"attention_bias", true},
            {"attention_dropout", 0.0},
            {"swiglu_limit", 7.0},
            {"hidden_act", "silu"},
            {"router_aux_loss_coef", 0.9},
            {"output_router_logits", false},
            {"torch_dtype", torch_dtype(o.dtype)},
            {"use_cache", true},
            {"transformers_version", kTransformersVersion},
            {"quantization_config",
             {{"quant_method", "mxfp4"},
              {"modules_to_not_convert",
               {"model.layers.*.self_attn", "model.layers.*.mlp.router", "model.embed_tokens", "lm_head"}}}}};
  if (o.rope_scaling) {
    c["rope_scaling"] = {{"beta_fast", 32.0},
                         {"beta_slow", 1.0},
                         {"factor", 32.0},
                         {"original_max_position_embeddings", 4096},
                         {"rope_type", "yarn"},
                         {"truncate", false}};
    c["max_position_embeddings"] = 131072;
  } else {
    c["rope_scaling"] = nullptr;
    c["max_position_embeddings"] = 4096;
  }
  return c;
}

json gemma3_config(const ModelShape& s, const GenerateOptions& o) {
  constexpr int64_t kPattern = 6;  // 5 sliding (local) layers, then 1 full (global)
  json types = json::array();
  for (int64_t i = 0; i < s.layers; ++i)
    types.push_back((i + 1) % kPattern == 0 ? "full_attention" : "sliding_attention");
  return {{"architectures", {"Gemma3ForCausalLM"}},
          {"model_type", "gemma3_text"},
          {"hidden_size", s.hidden},
          {"intermediate_size", s.ffn},
          {"num_hidden_layers", s.layers},
          {"num_attention_heads", s.heads},
          {"num_key_value_heads", s.kv_heads},
          {"head_dim", s.head_dim},
          {"vocab_size", s.vocab},
          {"max_position_embeddings", 32768},
          {"rms_norm_eps", 1e-6},
          {"rope_theta", 1000000.0},
          {"rope_local_base_freq", 10000.0},
          {"rope_scaling", nullptr},
          {"sliding_window", s.sliding_window > 0 ? s.sliding_window : 512},
          {"sliding_window_pattern", kPattern},
          {"layer_types", std::move(types)},
          {"query_pre_attn_scalar", s.head_dim},
          {"hidden_activation", "gelu_pytorch_tanh"},
          {"attn_logit_softcapping", nullptr},
          {"final_logit_softcapping", nullptr},
          {"attention_bias", false},
          {"attention_dropout", 0.0},
          {"tie_word_embeddings", s.tie_embeddings},
          {"torch_dtype", torch_dtype(o.dtype)},
          {"use_cache", true},
          {"transformers_version", kTransformersVersion}};
}

// Qwen 3.5 text configs (Qwen3_5TextConfig / Qwen3_5MoeTextConfig field sets, as the trained tiny-qwen35 fixture
// and the released text configs carry them): layer_types spelled out, partial rotary 0.25 with interleaved
// multimodal sections in rope_parameters, one MTP layer (its mtp.* tensors are in the checkpoint, see tensors.cpp).
json qwen35_config(const ModelShape& s, const GenerateOptions& o, bool moe) {
  const LinearAttentionShape l = linear_attention_shape(s);
  json c = moe ? common_fields(s, o, "qwen3_5_moe_text", "Qwen3_5MoeForCausalLM")
               : common_fields(s, o, "qwen3_5_text", "Qwen3_5ForCausalLM");
  c["head_dim"] = s.head_dim;
  c["max_position_embeddings"] = 4096;
  c["rms_norm_eps"] = 1e-6;
  c["attention_bias"] = false;
  c["attn_output_gate"] = true;
  c["linear_conv_kernel_dim"] = l.conv_kernel;
  c["linear_key_head_dim"] = l.head_dim;
  c["linear_value_head_dim"] = l.head_dim;
  c["linear_num_key_heads"] = l.k_heads;
  c["linear_num_value_heads"] = l.v_heads;
  json types = json::array();
  for (int64_t i = 0; i < s.layers; ++i)
    types.push_back((i + 1) % l.full_interval == 0 ? "full_attention" : "linear_attention");
  c["layer_types"] = std::move(types);
  c["full_attention_interval"] = l.full_interval;
  // mrope_section: rotary pairs split 3 ways as the release's [11, 11, 10] splits 32 (head_dim 256).
  const int64_t pairs = s.head_dim / 8, a = (pairs + 2) / 3;
  c["rope_parameters"] = {{"rope_type", "default"},
                          {"rope_theta", 10000000.0},
                          {"partial_rotary_factor", 0.25},
                          {"mrope_section", {a, a, pairs - 2 * a}},
                          {"mrope_interleaved", true}};
  c["mtp_num_hidden_layers"] = l.mtp_layers;
  c["mtp_use_dedicated_embeddings"] = false;
  if (moe) {
    c["intermediate_size"] = 3 * s.ffn;  // unused by the MoE layers (every layer is sparse)
    c["moe_intermediate_size"] = s.ffn;
    c["shared_expert_intermediate_size"] = s.ffn;
    c["num_experts"] = s.experts;
    c["num_experts_per_tok"] = s.experts_per_tok;
    c["norm_topk_prob"] = true;
    c["output_router_logits"] = false;
    c["router_aux_loss_coef"] = 0.001;
  }
  return c;
}

// Gemma4TextConfig's field set as the E2B text config carries it (transformers 5): layer_types spelled out, per-type
// rope_parameters (proportional partial rotary on full layers), the PLE / KV-sharing / double-wide-MLP fields.
json gemma4_config(const ModelShape& s, const GenerateOptions& o) {
  const Gemma4Shape g = gemma4_shape(s);
  json types = json::array();
  for (int64_t i = 0; i < s.layers; ++i) types.push_back(g.full(i) ? "full_attention" : "sliding_attention");
  return {{"architectures", {"Gemma4ForCausalLM"}},
          {"model_type", "gemma4_text"},
          {"hidden_size", s.hidden},
          {"intermediate_size", s.ffn},
          {"num_hidden_layers", s.layers},
          {"num_attention_heads", s.heads},
          {"num_key_value_heads", s.kv_heads},
          {"head_dim", s.head_dim},
          {"global_head_dim", g.global_head_dim},
          {"num_global_key_value_heads", nullptr},
          {"attention_k_eq_v", false},
          {"vocab_size", s.vocab},
          {"vocab_size_per_layer_input", s.vocab},
          {"hidden_size_per_layer_input", g.per_layer},
          {"num_kv_shared_layers", g.kv_shared},
          {"use_double_wide_mlp", true},
          {"enable_moe_block", false},
          {"num_experts", nullptr},
          {"top_k_experts", nullptr},
          {"moe_intermediate_size", nullptr},
          {"max_position_embeddings", 32768},
          {"rms_norm_eps", 1e-6},
          {"rope_parameters",
           {{"full_attention", {{"rope_type", "proportional"}, {"partial_rotary_factor", 0.25}, {"rope_theta", 1000000.0}}},
            {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", 10000.0}}}}},
          {"sliding_window", s.sliding_window > 0 ? s.sliding_window : 512},
          {"layer_types", std::move(types)},
          {"hidden_activation", "gelu_pytorch_tanh"},
          {"final_logit_softcapping", 30.0},
          {"use_bidirectional_attention", nullptr},
          {"attention_bias", false},
          {"attention_dropout", 0.0},
          {"tie_word_embeddings", s.tie_embeddings},
          {"torch_dtype", torch_dtype(o.dtype)},
          {"use_cache", true},
          {"transformers_version", "5.5.0"}};
}

}  // namespace

json make_config(const GenerateOptions& options) {
  const Family f = family_from_name(options.family);
  const ModelShape s = resolve_shape(options);
  json c;
  switch (f) {
    case Family::Llama: c = llama_config(s, options); break;
    case Family::Mistral: c = mistral_like_config(s, options, false); break;
    case Family::Mixtral: c = mistral_like_config(s, options, true); break;
    case Family::Qwen2: c = qwen2_config(s, options); break;
    case Family::Qwen3: c = qwen3_config(s, options, false); break;
    case Family::Qwen3Moe: c = qwen3_config(s, options, true); break;
    case Family::GptOss: c = gpt_oss_config(s, options); break;
    case Family::Gemma3: c = gemma3_config(s, options); break;
    case Family::Qwen35: c = qwen35_config(s, options, false); break;
    case Family::Qwen35Moe: c = qwen35_config(s, options, true); break;
    case Family::Gemma4: c = gemma4_config(s, options); break;
  }
  const TokenLayout layout = token_layout(f, s.vocab);
  const FamilyTokens roles = family_tokens(f);
  c["bos_token_id"] = optional_id(layout, roles.bos.empty() ? roles.pad : roles.bos);
  c["eos_token_id"] = ids_json(layout, roles.config_eos);
  // Only the gpt-oss and gemma3 releases name a pad id in config.json (qwen/llama/mistral leave it out).
  if (f == Family::GptOss || f == Family::Gemma3 || f == Family::Gemma4) c["pad_token_id"] = layout.id(roles.pad);
  return c;
}

json make_generation_config(const GenerateOptions& options) {
  const Family f = family_from_name(options.family);
  const ModelShape s = resolve_shape(options);
  const TokenLayout layout = token_layout(f, s.vocab);
  const FamilyTokens roles = family_tokens(f);
  json g = {{"bos_token_id", optional_id(layout, roles.bos.empty() ? roles.pad : roles.bos)},
            {"eos_token_id", ids_json(layout, roles.generation_eos)},
            {"do_sample", false},
            {"transformers_version", kTransformersVersion}};
  if (!roles.pad.empty()) g["pad_token_id"] = layout.id(roles.pad);
  return g;
}

}  // namespace lp::testgen
