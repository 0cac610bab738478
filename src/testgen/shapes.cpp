// Families, presets and shape resolution.
#include <algorithm>

#include "core/error.h"
#include "testgen/families.h"
#include "testgen/generate.h"

namespace lp::testgen {
namespace {

struct FamilyInfo {
  Family family;
  const char* name;
  std::vector<const char*> aliases;
};

const std::vector<FamilyInfo>& family_table() {
  static const std::vector<FamilyInfo> table = {
      {Family::Llama, "llama", {"llama3"}},
      {Family::Mistral, "mistral", {}},
      {Family::Qwen2, "qwen2", {}},
      {Family::Qwen3, "qwen3", {}},
      {Family::Qwen3Moe, "qwen3moe", {"qwen3_moe", "qwen3-moe"}},
      {Family::Mixtral, "mixtral", {}},
      {Family::GptOss, "gpt-oss", {"gpt_oss", "gptoss"}},
      {Family::Gemma3, "gemma3", {"gemma3_text", "gemma3-text"}},
      {Family::Qwen35, "qwen35", {"qwen3_5", "qwen3_5_text", "qwen3.5"}},
      {Family::Qwen35Moe, "qwen35moe", {"qwen3_5_moe", "qwen3_5_moe_text", "qwen3.5-moe"}},
      {Family::Gemma4, "gemma4", {"gemma4_text", "gemma-4"}},
  };
  return table;
}

// The `tiny` preset: hidden 256 (a multiple of 256, so K-quants apply everywhere), a few layers.
ModelShape tiny_shape(Family f) {
  ModelShape s;
  s.hidden = 256;
  s.heads = 4;
  s.kv_heads = 2;
  s.head_dim = 64;
  s.vocab = 4096;
  switch (f) {
    case Family::Llama: s.layers = 2; s.ffn = 768; s.tie_embeddings = false; break;
    case Family::Mistral: s.layers = 2; s.ffn = 768; s.tie_embeddings = false; break;
    case Family::Qwen2: s.layers = 2; s.ffn = 768; s.tie_embeddings = true; break;
    case Family::Qwen3: s.layers = 4; s.ffn = 768; s.tie_embeddings = true; break;
    case Family::Qwen3Moe:
      s.layers = 2; s.ffn = 256; s.experts = 8; s.experts_per_tok = 2; s.tie_embeddings = true;
      break;
    case Family::Mixtral:
      s.layers = 2; s.ffn = 512; s.experts = 4; s.experts_per_tok = 2; s.tie_embeddings = false;
      break;
    case Family::GptOss:
      s.layers = 2; s.ffn = 256; s.experts = 4; s.experts_per_tok = 2; s.tie_embeddings = false;
      s.sliding_window = 32;
      break;
    case Family::Gemma3:
      s.layers = 6; s.ffn = 768; s.kv_heads = 1; s.tie_embeddings = true; s.sliding_window = 32;
      break;
    case Family::Qwen35:  // 3 Gated DeltaNet layers + 1 gated full-attention layer
      s.layers = 4; s.ffn = 768; s.tie_embeddings = true;
      break;
    case Family::Qwen35Moe:  // experts and the shared expert 256 wide (down rows stay K-quant aligned)
      s.layers = 4; s.ffn = 256; s.experts = 8; s.experts_per_tok = 2; s.tie_embeddings = false;
      break;
    case Family::Gemma4:  // S S F S S F, layers 3..5 share the KV of layers 1 (sliding) and 2 (full); one KV head (E2B)
      s.layers = 6; s.ffn = 512; s.kv_heads = 1; s.tie_embeddings = true; s.sliding_window = 32;
      break;
  }
  return s;
}

// `large`: a >= 2 GB checkpoint (Qwen3-1.7B-like widths) for the streaming-memory check.
ModelShape large_shape(Family f) {
  ModelShape s = tiny_shape(f);
  s.hidden = 2048;
  s.layers = 24;
  s.heads = 16;
  s.kv_heads = 8;
  s.head_dim = 128;
  s.ffn = 6144;
  s.vocab = 151936;
  if (family_is_moe(f)) {
    s.experts = 16;
    s.experts_per_tok = 4;
    s.ffn = f == Family::GptOss ? 2048 : 1024;  // gpt-oss experts are 4-bit: wider to stay >= 2 GB
  }
  if (s.sliding_window) s.sliding_window = 128;
  return s;
}

// `qwen3-0.6b`: the real Qwen3-0.6B shapes (synthetic vocabulary of the real size).
ModelShape qwen3_06b_shape(Family f) {
  ModelShape s = tiny_shape(f);
  s.hidden = 1024;
  s.layers = 28;
  s.heads = 16;
  s.kv_heads = 8;
  s.head_dim = 128;
  s.ffn = 3072;
  s.vocab = 151936;
  s.tie_embeddings = true;
  if (family_is_moe(f)) s.ffn = 768;
  if (s.sliding_window) s.sliding_window = 128;
  return s;
}

void require_positive(int64_t v, const char* what) {
  if (v <= 0) fail("testgen: {} must be positive (got {})", what, v);
}

}  // namespace

Family family_from_name(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const auto& info : family_table()) {
    if (lower == info.name) return info.family;
    for (const char* alias : info.aliases)
      if (lower == alias) return info.family;
  }
  std::string known;
  for (const auto& f : supported_families()) known += (known.empty() ? "" : ", ") + f;
  fail("testgen: unknown family '{}' (supported: {})", name, known);
}

const char* family_name(Family f) {
  for (const auto& info : family_table())
    if (info.family == f) return info.name;
  return "?";
}

bool family_is_moe(Family f) {
  return f == Family::Qwen3Moe || f == Family::Mixtral || f == Family::GptOss || f == Family::Qwen35Moe;
}

bool family_is_qwen35(Family f) { return f == Family::Qwen35 || f == Family::Qwen35Moe; }

Gemma4Shape gemma4_shape(const ModelShape& s) {
  Gemma4Shape g;
  g.kv_shared = s.layers / 2;
  g.global_head_dim = 2 * s.head_dim;
  g.per_layer = s.hidden / 2;
  return g;
}

// Two value heads per key head (as every released Qwen 3.5: 16 key / 32 value heads), so llama.cpp's V-head
// reordering changes the layout; the linear head dim follows the attention head dim.
LinearAttentionShape linear_attention_shape(const ModelShape& s) {
  LinearAttentionShape l;
  l.head_dim = s.head_dim;
  l.k_heads = std::max<int64_t>(1, s.kv_heads);
  l.v_heads = 2 * l.k_heads;
  return l;
}

std::vector<std::string> supported_families() {
  std::vector<std::string> out;
  for (const auto& info : family_table()) out.emplace_back(info.name);
  return out;
}

std::vector<std::string> supported_presets() { return {"tiny", "large", "qwen3-0.6b"}; }

std::string canonical_family(const std::string& name) { return family_name(family_from_name(name)); }

ModelShape resolve_shape(const GenerateOptions& o) {
  const Family f = family_from_name(o.family);
  ModelShape s;
  if (o.preset == "tiny") s = tiny_shape(f);
  else if (o.preset == "large") s = large_shape(f);
  else if (o.preset == "qwen3-0.6b") s = qwen3_06b_shape(f);
  else fail("testgen: unknown preset '{}' (supported: tiny, large, qwen3-0.6b)", o.preset);
  s.family = family_name(f);

  const ShapeOverrides& ov = o.overrides;
  const bool heads_changed = ov.heads || ov.hidden;
  if (ov.hidden) s.hidden = *ov.hidden;
  if (ov.layers) s.layers = *ov.layers;
  if (ov.ffn) s.ffn = *ov.ffn;
  if (ov.heads) s.heads = *ov.heads;
  if (ov.kv_heads) s.kv_heads = *ov.kv_heads;
  if (ov.head_dim) s.head_dim = *ov.head_dim;
  else if (heads_changed && s.hidden % s.heads == 0) s.head_dim = s.hidden / s.heads;
  if (ov.vocab) s.vocab = *ov.vocab;
  if (ov.experts) s.experts = *ov.experts;
  if (ov.experts_per_tok) s.experts_per_tok = *ov.experts_per_tok;
  if (ov.sliding_window) s.sliding_window = *ov.sliding_window;
  if (o.tie_embeddings) s.tie_embeddings = *o.tie_embeddings;

  require_positive(s.hidden, "hidden");
  require_positive(s.layers, "layers");
  require_positive(s.ffn, "ffn");
  require_positive(s.heads, "heads");
  require_positive(s.kv_heads, "kv_heads");
  require_positive(s.head_dim, "head_dim");
  require_positive(s.vocab, "vocab");
  if (s.heads % s.kv_heads != 0) fail("testgen: heads ({}) must be a multiple of kv_heads ({})", s.heads, s.kv_heads);
  if (s.head_dim % 2 != 0) fail("testgen: head_dim ({}) must be even for RoPE", s.head_dim);
  if (family_is_moe(f)) {
    require_positive(s.experts, "experts");
    require_positive(s.experts_per_tok, "experts_per_tok");
    if (s.experts_per_tok > s.experts)
      fail("testgen: experts_per_tok ({}) exceeds experts ({})", s.experts_per_tok, s.experts);
  } else {
    if (ov.experts || ov.experts_per_tok) fail("testgen: family '{}' is dense: no experts", s.family);
    s.experts = s.experts_per_tok = 0;
  }
  if (f == Family::GptOss && (s.hidden % 32 != 0 || s.ffn % 32 != 0))
    fail("testgen: gpt-oss MXFP4 experts need hidden ({}) and ffn ({}) to be multiples of 32", s.hidden, s.ffn);
  // qwen2 configs have no head_dim field: unless asked for explicitly, derive it as transformers does.
  if (f == Family::Qwen2 && !ov.head_dim && s.hidden % s.heads == 0) s.head_dim = s.hidden / s.heads;
  if (f == Family::Qwen2 && s.head_dim * s.heads != s.hidden)
    fail("testgen: qwen2 has no head_dim field: head_dim * heads must equal hidden ({} * {} != {})", s.head_dim,
         s.heads, s.hidden);
  if (s.sliding_window < 0) fail("testgen: sliding_window must be >= 0");
  if (family_is_qwen35(f) && (s.head_dim % 8 != 0 || s.layers % 4 != 0))
    fail("testgen: qwen35 needs head_dim ({}) a multiple of 8 (partial rotary 0.25) and layers ({}) a multiple of 4",
         s.head_dim, s.layers);
  if (f == Family::Gemma4 && s.layers % 6 != 0)
    fail("testgen: gemma4 needs layers ({}) a multiple of 6 (layer_types S S F repeated; the second half shares the "
         "KV of the last full and sliding layers before it)", s.layers);
  token_layout(f, s.vocab);  // validates that the vocabulary can hold the special tokens
  return s;
}

}  // namespace lp::testgen
