// Internal: the supported families and what differs between them (used by shapes, config, tensors, tokenizer).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "testgen/generate.h"

namespace lp::testgen {

enum class Family { Llama, Mistral, Qwen2, Qwen3, Qwen3Moe, Mixtral, GptOss, Gemma3, Qwen35, Qwen35Moe, Gemma4 };

Family family_from_name(const std::string& name);  // accepts aliases; throws lp::Error
const char* family_name(Family f);                 // canonical name, e.g. "gpt-oss"
bool family_is_moe(Family f);
bool family_is_qwen35(Family f);  // Gated DeltaNet hybrids (qwen35, qwen35moe)

// The Gated DeltaNet shape of the generated qwen35 checkpoints (tiny preset; other presets scale the heads).
struct LinearAttentionShape {
  int64_t k_heads = 2, v_heads = 4, head_dim = 64, conv_kernel = 4, full_interval = 4, mtp_layers = 1;
};
LinearAttentionShape linear_attention_shape(const ModelShape& s);

// Gemma 4 E2B-like quirks of the generated gemma4 checkpoints: layer_types period `period` (period - 1 sliding, then
// one full), the last kv_shared layers share KV (E2B: 20 of 35), full-attention layers with twice the head size
// (global_head_dim: E2B 512 vs 256), per-layer embeddings of per_layer values per layer (E2B 256), double-wide MLP on
// the KV-shared layers.
struct Gemma4Shape {
  int64_t period = 3, kv_shared = 0, global_head_dim = 0, per_layer = 0;
  bool full(int64_t layer) const { return (layer + 1) % period == 0; }
  bool shared(int64_t layer, int64_t layers) const { return layer >= layers - kv_shared; }
};
Gemma4Shape gemma4_shape(const ModelShape& s);

// Where the family's special tokens sit in the vocabulary, and their ids.
struct TokenLayout {
  std::vector<std::string> specials;  // in id order
  int64_t first_special = 0;          // id of specials[0]
  int64_t first_base = 0;             // id of the first byte-level BPE token
  int64_t n_base = 0;                 // byte tokens + merged tokens + synthetic fillers
  int64_t n_merged = 0;               // BPE merges kept from the base tokenizer
  int64_t n_fillers = 0;              // synthetic never-produced tokens that pad the vocabulary
  int64_t id(const std::string& special) const;  // throws if absent
};
TokenLayout token_layout(Family f, int64_t vocab);

// Special-token roles per family (names as in the real tokenizers).
struct FamilyTokens {
  std::string bos, eos, pad, unk;        // empty = none
  std::vector<std::string> config_eos;   // config.json eos_token_id (one entry -> scalar)
  std::vector<std::string> generation_eos;  // generation_config.json eos_token_id list
};
FamilyTokens family_tokens(Family f);

std::string chat_template(Family f);

}  // namespace lp::testgen
