// Checkpoint layouts per family. Shapes are PyTorch order ([out, in] for nn.Linear weights).
#include "arch/layout.h"

#include <fmt/format.h>

#include "core/error.h"

namespace lp::arch::detail {

namespace {

struct LayoutBuilder {
  std::vector<TensorDesc>& out;

  void add(std::string name, Role role, int layer, std::vector<int64_t> shape, Part part = Part::Weight,
           int expert = -1, std::string dtype = "") {
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
};

void add_attention(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il) {
  const int64_t D = hp.n_embd, q = int64_t{hp.n_head} * hp.head_dim, kv = int64_t{hp.n_head_kv} * hp.head_dim;
  const std::string a = lp + "self_attn.";
  b.add(a + "q_proj.weight", Role::AttnQ, il, {q, D});
  if (hp.attn_qkv_bias) b.add(a + "q_proj.bias", Role::AttnQ, il, {q}, Part::Bias);
  b.add(a + "k_proj.weight", Role::AttnK, il, {kv, D});
  if (hp.attn_qkv_bias) b.add(a + "k_proj.bias", Role::AttnK, il, {kv}, Part::Bias);
  b.add(a + "v_proj.weight", Role::AttnV, il, {kv, D});
  if (hp.attn_qkv_bias) b.add(a + "v_proj.bias", Role::AttnV, il, {kv}, Part::Bias);
  b.add(a + "o_proj.weight", Role::AttnO, il, {D, q});
  if (hp.attn_o_bias) b.add(a + "o_proj.bias", Role::AttnO, il, {D}, Part::Bias);
  if (hp.qk_norm) {
    b.add(a + "q_norm.weight", Role::AttnQNorm, il, {hp.head_dim});
    b.add(a + "k_norm.weight", Role::AttnKNorm, il, {hp.head_dim});
  }
  if (hp.attn_sinks) b.add(a + "sinks", Role::AttnSinks, il, {hp.n_head});
}

void add_dense_ffn(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il) {
  const int64_t D = hp.n_embd, F = hp.n_ff;
  b.add(lp + "mlp.gate_proj.weight", Role::FfnGate, il, {F, D});
  b.add(lp + "mlp.up_proj.weight", Role::FfnUp, il, {F, D});
  b.add(lp + "mlp.down_proj.weight", Role::FfnDown, il, {D, F});
}

void add_moe_ffn(LayoutBuilder& b, const HParams& hp, const std::string& lp, int il, const LayoutOptions& opt) {
  const int64_t D = hp.n_embd, F = hp.n_ff_expert, E = hp.n_expert;
  switch (hp.family) {
    case Family::Qwen3Moe:
      b.add(lp + "mlp.gate.weight", Role::Router, il, {E, D});
      for (int e = 0; e < E; ++e) {
        std::string x = fmt::format("{}mlp.experts.{}.", lp, e);
        b.add(x + "gate_proj.weight", Role::ExpertGate, il, {F, D}, Part::Weight, e);
        b.add(x + "up_proj.weight", Role::ExpertUp, il, {F, D}, Part::Weight, e);
        b.add(x + "down_proj.weight", Role::ExpertDown, il, {D, F}, Part::Weight, e);
      }
      break;
    case Family::Mixtral:
      b.add(lp + "block_sparse_moe.gate.weight", Role::Router, il, {E, D});
      for (int e = 0; e < E; ++e) {
        std::string x = fmt::format("{}block_sparse_moe.experts.{}.", lp, e);
        b.add(x + "w1.weight", Role::ExpertGate, il, {F, D}, Part::Weight, e);
        b.add(x + "w2.weight", Role::ExpertDown, il, {D, F}, Part::Weight, e);
        b.add(x + "w3.weight", Role::ExpertUp, il, {F, D}, Part::Weight, e);
      }
      break;
    case Family::GptOss: {
      b.add(lp + "mlp.router.weight", Role::Router, il, {E, D});
      b.add(lp + "mlp.router.bias", Role::Router, il, {E}, Part::Bias);
      const std::string x = lp + "mlp.experts.";
      if (opt.mxfp4_experts) {
        // 32 elements per block, 16 bytes per block; one E8M0 scale per block.
        b.add(x + "gate_up_proj_blocks", Role::ExpertGateUp, il, {E, 2 * F, D / 32, 16}, Part::MxBlocks, -1, "U8");
        b.add(x + "gate_up_proj_scales", Role::ExpertGateUp, il, {E, 2 * F, D / 32}, Part::MxScales, -1, "U8");
      } else {
        b.add(x + "gate_up_proj", Role::ExpertGateUp, il, {E, D, 2 * F});
      }
      b.add(x + "gate_up_proj_bias", Role::ExpertGateUp, il, {E, 2 * F}, Part::Bias);
      if (opt.mxfp4_experts) {
        b.add(x + "down_proj_blocks", Role::ExpertDown, il, {E, D, F / 32, 16}, Part::MxBlocks, -1, "U8");
        b.add(x + "down_proj_scales", Role::ExpertDown, il, {E, D, F / 32}, Part::MxScales, -1, "U8");
      } else {
        b.add(x + "down_proj", Role::ExpertDown, il, {E, F, D});
      }
      b.add(x + "down_proj_bias", Role::ExpertDown, il, {E, D}, Part::Bias);
      break;
    }
    default:
      fail("internal: family {} has no MoE layout", family_name(hp.family));
  }
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
  for (int il = 0; il < hp.n_layer; ++il) {
    const std::string lp = fmt::format("{}layers.{}.", m, il);
    b.add(lp + "input_layernorm.weight", Role::AttnNorm, il, {D});
    add_attention(b, hp, lp, il);
    if (hp.family == Family::Gemma3) {
      b.add(lp + "post_attention_layernorm.weight", Role::AttnPostNorm, il, {D});
      b.add(lp + "pre_feedforward_layernorm.weight", Role::FfnNorm, il, {D});
      b.add(lp + "post_feedforward_layernorm.weight", Role::FfnPostNorm, il, {D});
    } else {
      b.add(lp + "post_attention_layernorm.weight", Role::FfnNorm, il, {D});
    }
    if (hp.layers[il].moe) add_moe_ffn(b, hp, lp, il, opt);
    else add_dense_ffn(b, hp, lp, il);
  }
  b.add(m + "norm.weight", Role::OutputNorm, -1, {D});
  if (opt.lm_head) b.add(lm_head_name(hp), Role::Output, -1, {V, D});
  return out;
}

}  // namespace lp::arch::detail
