// Checkpoint layouts per family. Shapes are PyTorch order ([out, in] for nn.Linear weights).
#include "arch/layout.h"

#include <fmt/format.h>

#include "arch/families/family.h"
#include "core/error.h"

namespace lp::arch::detail {

void LayoutBuilder::add(std::string name, Role role, int layer, std::vector<int64_t> shape, Part part, int expert,
                        std::string dtype) {
  TensorDesc t;
  t.hf_name = std::move(name);
  t.role = role;
  t.layer = layer;
  t.expert = expert;
  t.part = part;
  t.is_bias = part == Part::Bias;
  t.dtype = std::move(dtype);
  t.hf_shape = std::move(shape);
  out.push_back(std::move(t));
}

namespace {

void add_attention(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il) {
  const LayerKind& k = hp.layers[il];
  const int64_t hd = hp.layer_head_dim(il);
  const int64_t D = hp.n_embd, q = int64_t{hp.n_head} * hd, kv = int64_t{hp.layer_n_head_kv(il)} * hd;
  const std::string a = lp + "self_attn.";
  b.add(a + "q_proj.weight", Role::AttnQ, il, {hp.attn_output_gate ? 2 * q : q, D});  // qwen35: query + gate per head
  if (hp.attn_qkv_bias) b.add(a + "q_proj.bias", Role::AttnQ, il, {q}, Part::Bias);
  // gemma4 KV-shared layers: transformers builds no k/v projections (nor k_norm) there, but released archives
  // (E2B) still carry unused ones; accepted when present and converted as llama.cpp's converter does (it loads them
  // as optional and never reads them).
  const size_t first_kv = b.out.size();
  b.add(a + "k_proj.weight", Role::AttnK, il, {kv, D});
  if (hp.attn_qkv_bias) b.add(a + "k_proj.bias", Role::AttnK, il, {kv}, Part::Bias);
  if (!k.k_eq_v) b.add(a + "v_proj.weight", Role::AttnV, il, {kv, D});
  if (hp.attn_qkv_bias && !k.k_eq_v) b.add(a + "v_proj.bias", Role::AttnV, il, {kv}, Part::Bias);
  for (size_t i = first_kv; i < b.out.size() && k.kv_shared; ++i) b.out[i].optional = true;
  b.add(a + "o_proj.weight", Role::AttnO, il, {D, q});
  if (hp.attn_o_bias) b.add(a + "o_proj.bias", Role::AttnO, il, {D}, Part::Bias);
  if (hp.qk_norm) {
    b.add(a + "q_norm.weight", Role::AttnQNorm, il, {hd});
    b.add(a + "k_norm.weight", Role::AttnKNorm, il, {hd});
    if (k.kv_shared) b.out.back().optional = true;
  }
  if (hp.attn_sinks) b.add(a + "sinks", Role::AttnSinks, il, {hp.n_head});
}

// Gated DeltaNet (qwen35 linear_attn), as transformers' Qwen3_5GatedDeltaNet names its parameters.
void add_linear_attention(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il) {
  const int64_t D = hp.n_embd, k_dim = int64_t{hp.ssm_k_heads} * hp.ssm_head_k_dim,
                v_dim = int64_t{hp.ssm_v_heads} * hp.ssm_head_v_dim, conv_dim = 2 * k_dim + v_dim;
  const std::string a = lp + "linear_attn.";
  b.add(a + "in_proj_qkv.weight", Role::SsmQkv, il, {conv_dim, D});
  b.add(a + "in_proj_z.weight", Role::SsmGate, il, {v_dim, D});
  b.add(a + "in_proj_b.weight", Role::SsmBeta, il, {hp.ssm_v_heads, D});
  b.add(a + "in_proj_a.weight", Role::SsmAlpha, il, {hp.ssm_v_heads, D});
  b.add(a + "conv1d.weight", Role::SsmConv1d, il, {conv_dim, 1, hp.ssm_conv_kernel});
  b.add(a + "dt_bias", Role::SsmDt, il, {hp.ssm_v_heads}, Part::Bias);
  b.add(a + "A_log", Role::SsmA, il, {hp.ssm_v_heads});
  b.add(a + "norm.weight", Role::SsmNorm, il, {hp.ssm_head_v_dim});
  b.add(a + "out_proj.weight", Role::SsmOut, il, {D, v_dim});
}

void add_dense_ffn(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il) {
  const int64_t D = hp.n_embd, F = hp.layer_n_ff(il);
  b.add(lp + "mlp.gate_proj.weight", Role::FfnGate, il, {F, D});
  b.add(lp + "mlp.up_proj.weight", Role::FfnUp, il, {F, D});
  b.add(lp + "mlp.down_proj.weight", Role::FfnDown, il, {D, F});
}

}  // namespace

// transformers < 4.52 saved multimodal gemma3 as language_model.model.* + language_model.lm_head; later
// versions as model.language_model.* + lm_head.
std::string model_prefix(const HParams& hp) {
  return hp.tensor_prefix == kNewMultimodalPrefix ? hp.tensor_prefix : hp.tensor_prefix + "model.";
}
std::string lm_head_name(const HParams& hp) {
  return hp.tensor_prefix == kNewMultimodalPrefix ? "lm_head.weight" : hp.tensor_prefix + "lm_head.weight";
}

std::vector<TensorDesc> checkpoint_layout(const HParams& hp, const LayoutOptions& opt) {
  std::vector<TensorDesc> out;
  LayoutBuilder b{out};
  const int64_t D = hp.n_embd, V = hp.n_vocab;
  const std::string m = model_prefix(hp);
  b.add(m + "embed_tokens.weight", Role::TokenEmbd, -1, {V, D});
  const int64_t P = hp.n_embd_per_layer, LP = int64_t{hp.n_layer} * P;
  if (P > 0) {  // gemma4 per-layer embeddings, as Gemma4TextModel registers them
    b.add(m + "embed_tokens_per_layer.weight", Role::PleEmbd, -1, {V, LP});
    b.add(m + "per_layer_model_projection.weight", Role::PleModelProj, -1, {LP, D});
    b.add(m + "per_layer_projection_norm.weight", Role::PleProjNorm, -1, {P});
  }
  for (int il = 0; il < hp.n_layer; ++il) {
    const std::string lp = fmt::format("{}layers.{}.", m, il);
    b.add(lp + "input_layernorm.weight", Role::AttnNorm, il, {D});
    if (hp.layers[il].recurrent) add_linear_attention(b, hp, lp, il);
    else add_attention(b, hp, lp, il);
    if (family_info(hp.family).sandwich_norms) {
      b.add(lp + "post_attention_layernorm.weight", Role::AttnPostNorm, il, {D});
      b.add(lp + "pre_feedforward_layernorm.weight", Role::FfnNorm, il, {D});
      b.add(lp + "post_feedforward_layernorm.weight", Role::FfnPostNorm, il, {D});
    } else {
      b.add(lp + "post_attention_layernorm.weight", Role::FfnNorm, il, {D});
    }
    if (hp.layers[il].moe) {
      const auto moe = family_info(hp.family).hf_moe_layout;
      if (!moe) fail("internal: family {} has no MoE layout", family_name(hp.family));
      moe(b, hp, lp, il, opt);
    }
    else add_dense_ffn(b, hp, lp, il);
    if (P > 0) {
      b.add(lp + "per_layer_input_gate.weight", Role::PleInpGate, il, {P, D});
      b.add(lp + "per_layer_projection.weight", Role::PleProj, il, {D, P});
      b.add(lp + "post_per_layer_input_norm.weight", Role::PlePostNorm, il, {D});
    }
    if (hp.layer_scalar) b.add(lp + "layer_scalar", Role::LayerOutScale, il, {1});
  }
  b.add(m + "norm.weight", Role::OutputNorm, -1, {D});
  if (opt.lm_head) b.add(lm_head_name(hp), Role::Output, -1, {V, D});
  return out;
}

}  // namespace lp::arch::detail
