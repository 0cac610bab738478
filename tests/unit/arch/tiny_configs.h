// Small configs of every family for the unit tests (shapes small enough to enumerate every tensor).
#pragma once
#include <nlohmann/json.hpp>
#include <string>

namespace lp::arch::test {

inline nlohmann::json tiny_config(const std::string& family) {
  using nlohmann::json;
  json c = {{"hidden_size", 64}, {"num_hidden_layers", 2}, {"intermediate_size", 96}, {"num_attention_heads", 4},
            {"num_key_value_heads", 2}, {"vocab_size", 100}, {"max_position_embeddings", 512}, {"rms_norm_eps", 1e-5},
            {"rope_theta", 10000.0}, {"tie_word_embeddings", false}};
  if (family == "llama") {
    c["model_type"] = "llama";
    c["architectures"] = {"LlamaForCausalLM"};
  } else if (family == "llama3") {
    c["model_type"] = "llama";
    c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}, {"high_freq_factor", 4.0},
                         {"original_max_position_embeddings", 256}};
  } else if (family == "mistral") {
    c["model_type"] = "mistral";
    c["sliding_window"] = 32;
  } else if (family == "qwen2") {
    c["model_type"] = "qwen2";
    c["tie_word_embeddings"] = true;
  } else if (family == "qwen3") {
    c["model_type"] = "qwen3";
    c["head_dim"] = 32;
    c["tie_word_embeddings"] = true;
  } else if (family == "qwen3moe") {
    c["model_type"] = "qwen3_moe";
    c["head_dim"] = 16;
    c["num_experts"] = 4;
    c["num_experts_per_tok"] = 2;
    c["moe_intermediate_size"] = 32;
    c["norm_topk_prob"] = true;
    c["mlp_only_layers"] = json::array({1});
  } else if (family == "mixtral") {
    c["model_type"] = "mixtral";
    c["num_local_experts"] = 4;
    c["num_experts_per_tok"] = 2;
  } else if (family == "gptoss") {
    c["model_type"] = "gpt_oss";
    c["head_dim"] = 16;
    c["intermediate_size"] = 64;
    c["num_local_experts"] = 4;
    c["num_experts_per_tok"] = 2;
    c["sliding_window"] = 8;
    c["attention_bias"] = true;
    c["quantization_config"] = {{"quant_method", "mxfp4"}};
  } else if (family == "gemma3") {
    c["model_type"] = "gemma3_text";
    c["architectures"] = {"Gemma3ForCausalLM"};
    c["head_dim"] = 16;
    c["num_key_value_heads"] = 1;
    c["num_hidden_layers"] = 6;
    c["sliding_window"] = 16;
    c["rope_local_base_freq"] = 10000.0;
    c["rope_theta"] = 1000000.0;
    c["query_pre_attn_scalar"] = 16;
    c.erase("tie_word_embeddings");  // gemma3 ties by default
  } else if (family == "qwen35" || family == "qwen35moe") {
    // 3 Gated DeltaNet layers (1 key / 2 value heads of 16) + 1 gated full-attention layer, rotary 4 of 16 dims
    c["model_type"] = family == "qwen35" ? "qwen3_5_text" : "qwen3_5_moe_text";
    c["head_dim"] = 16;
    c["num_hidden_layers"] = 4;
    c["linear_conv_kernel_dim"] = 4;
    c["linear_num_key_heads"] = 1;
    c["linear_num_value_heads"] = 2;
    c["linear_key_head_dim"] = 16;
    c["linear_value_head_dim"] = 16;
    c["full_attention_interval"] = 4;
    c["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", 1e7}, {"partial_rotary_factor", 0.25},
                            {"mrope_section", {1, 1, 0}}};
    c.erase("rope_theta");
    if (family == "qwen35moe") {
      c["num_experts"] = 4;
      c["num_experts_per_tok"] = 2;
      c["moe_intermediate_size"] = 32;
      c["shared_expert_intermediate_size"] = 48;
    }
  }
  return c;
}

}  // namespace lp::arch::test
