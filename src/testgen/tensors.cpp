// The tensor list of each family, named and shaped as transformers' modeling_*.py and the released
// checkpoints store them (weights are [out_features, in_features]).
#include <fmt/format.h>

#include "core/error.h"
#include "testgen/families.h"
#include "testgen/generate.h"

namespace lp::testgen {
namespace {

constexpr float kWeightStd = 0.02f;  // transformers' initializer_range
constexpr float kBiasStd = 0.01f;    // small, so biases matter without dominating
constexpr float kSinkStd = 1.0f;     // attention-sink logits live on the scale of attention scores
constexpr float kConvStd = 0.25f;    // depthwise conv1d: kaiming-uniform scale for fan-in = kernel (4)

struct Planner {
  const GenerateOptions& options;
  std::vector<TensorPlan> out;

  void weight(const std::string& name, std::vector<int64_t> shape, float std = kWeightStd) {
    out.push_back({name, options.dtype, std::move(shape), InitKind::Normal, std, 0.0f});
  }
  void bias(const std::string& name, std::vector<int64_t> shape) { weight(name, std::move(shape), kBiasStd); }
  void norm(const std::string& name, int64_t n, float value) {
    out.push_back({name, options.dtype, {n}, InitKind::Constant, options.norm_jitter, value});
  }
  // MXFP4 expert tensor [experts, rows, cols] stored as *_blocks [E, rows, cols/32, 16] + *_scales [E, rows, cols/32].
  void mxfp4(const std::string& base, int64_t experts, int64_t rows, int64_t cols) {
    out.push_back({base + "_blocks", TensorDtype::U8, {experts, rows, cols / 32, 16}, InitKind::Mxfp4Blocks,
                   kWeightStd, 0.0f});
    out.push_back({base + "_scales", TensorDtype::U8, {experts, rows, cols / 32}, InitKind::Mxfp4Scales,
                   kWeightStd, 0.0f});
  }

  // qwen35: transformers' Qwen3_5GatedDeltaNet parameters of one linear-attention layer.
  void gated_deltanet(const std::string& l, const ModelShape& s) {
    const LinearAttentionShape g = linear_attention_shape(s);
    const int64_t H = s.hidden, k_dim = g.k_heads * g.head_dim, v_dim = g.v_heads * g.head_dim;
    const std::string a = l + "linear_attn.";
    weight(a + "in_proj_qkv.weight", {2 * k_dim + v_dim, H});
    weight(a + "in_proj_z.weight", {v_dim, H});
    weight(a + "in_proj_b.weight", {g.v_heads, H});
    weight(a + "in_proj_a.weight", {g.v_heads, H});
    weight(a + "conv1d.weight", {2 * k_dim + v_dim, 1, g.conv_kernel}, kConvStd);
    weight(a + "dt_bias", {g.v_heads});
    weight(a + "A_log", {g.v_heads});
    norm(a + "norm.weight", g.head_dim, 1.0f);  // the gated output norm scales by w (not 1 + w)
    weight(a + "out_proj.weight", {H, v_dim});
  }
  // qwen35 gated full attention: q_proj yields [query, gate] per head.
  void gated_attention(const std::string& l, const ModelShape& s) {
    const int64_t H = s.hidden, D = s.head_dim;
    weight(l + "self_attn.q_proj.weight", {2 * s.heads * D, H});
    weight(l + "self_attn.k_proj.weight", {s.kv_heads * D, H});
    weight(l + "self_attn.v_proj.weight", {s.kv_heads * D, H});
    weight(l + "self_attn.o_proj.weight", {H, s.heads * D});
    norm(l + "self_attn.q_norm.weight", D, 0.0f);
    norm(l + "self_attn.k_norm.weight", D, 0.0f);
  }
  // qwen35 FFN: dense SwiGLU, or (qwen35moe) routed experts + the sigmoid-gated shared expert.
  void qwen35_ffn(const std::string& l, const ModelShape& s, bool moe) {
    const int64_t H = s.hidden, F = s.ffn;
    if (!moe) {
      weight(l + "mlp.gate_proj.weight", {F, H});
      weight(l + "mlp.up_proj.weight", {F, H});
      weight(l + "mlp.down_proj.weight", {H, F});
      return;
    }
    // Routed experts fused as transformers 5 saves them (the released Qwen 3.5 MoE checkpoints): gate_up_proj
    // [E, 2F, H] (each expert's gate rows, then its up rows) and down_proj [E, H, F], no ".weight" suffix.
    weight(l + "mlp.gate.weight", {s.experts, H});
    weight(l + "mlp.experts.gate_up_proj", {s.experts, 2 * F, H});
    weight(l + "mlp.experts.down_proj", {s.experts, H, F});
    weight(l + "mlp.shared_expert.gate_proj.weight", {F, H});
    weight(l + "mlp.shared_expert.up_proj.weight", {F, H});
    weight(l + "mlp.shared_expert.down_proj.weight", {H, F});
    weight(l + "mlp.shared_expert_gate.weight", {1, H});
  }
  // Gemma 4 (transformers' Gemma4TextModel, E2B-like): per-layer embeddings, KV-shared layers without k/v
  // projections, full-attention layers with global_head_dim, double-wide MLP on the shared layers, layer_scalar.
  // Norms scale by w (not 1 + w): a unit norm is stored as 1.
  void gemma4(const ModelShape& s) {
    const Gemma4Shape g = gemma4_shape(s);
    const int64_t H = s.hidden, P = g.per_layer, L = s.layers;
    weight("model.embed_tokens.weight", {s.vocab, H});
    weight("model.embed_tokens_per_layer.weight", {s.vocab, L * P});
    weight("model.per_layer_model_projection.weight", {L * P, H});
    norm("model.per_layer_projection_norm.weight", P, 1.0f);
    for (int64_t i = 0; i < L; ++i) {
      const std::string l = fmt::format("model.layers.{}.", i);
      const int64_t D = g.full(i) ? g.global_head_dim : s.head_dim;
      const bool shared = g.shared(i, L);
      const int64_t F = shared ? 2 * s.ffn : s.ffn;
      norm(l + "input_layernorm.weight", H, 1.0f);
      weight(l + "self_attn.q_proj.weight", {s.heads * D, H});
      if (!shared) {
        weight(l + "self_attn.k_proj.weight", {s.kv_heads * D, H});
        weight(l + "self_attn.v_proj.weight", {s.kv_heads * D, H});
      }
      weight(l + "self_attn.o_proj.weight", {H, s.heads * D});
      norm(l + "self_attn.q_norm.weight", D, 1.0f);
      if (!shared) norm(l + "self_attn.k_norm.weight", D, 1.0f);
      norm(l + "post_attention_layernorm.weight", H, 1.0f);
      norm(l + "pre_feedforward_layernorm.weight", H, 1.0f);
      norm(l + "post_feedforward_layernorm.weight", H, 1.0f);
      weight(l + "mlp.gate_proj.weight", {F, H});
      weight(l + "mlp.up_proj.weight", {F, H});
      weight(l + "mlp.down_proj.weight", {H, F});
      weight(l + "per_layer_input_gate.weight", {P, H});
      weight(l + "per_layer_projection.weight", {H, P});
      norm(l + "post_per_layer_input_norm.weight", H, 1.0f);
      // The released layer scalars are well below 1 (E2B: 0.06..0.9); 0.5 +- 0.1 per seed keeps them visible.
      out.push_back({l + "layer_scalar", options.dtype, {1}, InitKind::Constant, 0.1f, 0.5f});
    }
    norm("model.norm.weight", H, 1.0f);
    if (!s.tie_embeddings) weight("lm_head.weight", {s.vocab, H});
  }
  // The whole qwen35 checkpoint: layers as layer_types lists them, then the MTP block as released (mtp.fc over
  // [embedding, hidden], its two input norms, one full-attention decoder layer, its final norm).
  void qwen35(const ModelShape& s, bool moe) {
    const LinearAttentionShape g = linear_attention_shape(s);
    const int64_t H = s.hidden;
    weight("model.embed_tokens.weight", {s.vocab, H});
    for (int64_t i = 0; i < s.layers; ++i) {
      const std::string l = fmt::format("model.layers.{}.", i);
      norm(l + "input_layernorm.weight", H, 0.0f);
      if ((i + 1) % g.full_interval == 0) gated_attention(l, s);
      else gated_deltanet(l, s);
      norm(l + "post_attention_layernorm.weight", H, 0.0f);
      qwen35_ffn(l, s, moe);
    }
    norm("model.norm.weight", H, 0.0f);
    if (!s.tie_embeddings) weight("lm_head.weight", {s.vocab, H});
    for (int64_t m = 0; m < g.mtp_layers; ++m) {
      const std::string l = fmt::format("mtp.layers.{}.", m);
      norm(l + "input_layernorm.weight", H, 0.0f);
      gated_attention(l, s);
      norm(l + "post_attention_layernorm.weight", H, 0.0f);
      qwen35_ffn(l, s, moe);
    }
    if (g.mtp_layers > 0) {
      weight("mtp.fc.weight", {H, 2 * H});
      norm("mtp.pre_fc_norm_embedding.weight", H, 0.0f);
      norm("mtp.pre_fc_norm_hidden.weight", H, 0.0f);
      norm("mtp.norm.weight", H, 0.0f);
    }
  }
};

}  // namespace

uint64_t TensorPlan::numel() const {
  uint64_t n = 1;
  for (int64_t d : shape) n *= static_cast<uint64_t>(d);
  return n;
}

uint64_t TensorPlan::nbytes() const { return numel() * dtype_size(dtype); }

std::vector<TensorPlan> plan_tensors(const GenerateOptions& options) {
  const Family f = family_from_name(options.family);
  const ModelShape s = resolve_shape(options);
  Planner p{options, {}};
  if (family_is_qwen35(f)) {
    p.qwen35(s, f == Family::Qwen35Moe);
    return std::move(p.out);
  }
  if (f == Family::Gemma4) {
    p.gemma4(s);
    return std::move(p.out);
  }
  const int64_t H = s.hidden, F = s.ffn, E = s.experts, D = s.head_dim;
  const int64_t q_dim = s.heads * D, kv_dim = s.kv_heads * D;
  // gemma3 scales by (1 + w): a unit norm is stored as 0.
  const float norm_one = f == Family::Gemma3 ? 0.0f : 1.0f;
  const bool qk_norm = f == Family::Qwen3 || f == Family::Qwen3Moe || f == Family::Gemma3;
  const bool qkv_bias = f == Family::Qwen2 || f == Family::GptOss;

  p.weight("model.embed_tokens.weight", {s.vocab, H});
  for (int64_t i = 0; i < s.layers; ++i) {
    const std::string l = fmt::format("model.layers.{}.", i);
    p.norm(l + "input_layernorm.weight", H, norm_one);
    p.weight(l + "self_attn.q_proj.weight", {q_dim, H});
    p.weight(l + "self_attn.k_proj.weight", {kv_dim, H});
    p.weight(l + "self_attn.v_proj.weight", {kv_dim, H});
    p.weight(l + "self_attn.o_proj.weight", {H, q_dim});
    if (qkv_bias) {
      p.bias(l + "self_attn.q_proj.bias", {q_dim});
      p.bias(l + "self_attn.k_proj.bias", {kv_dim});
      p.bias(l + "self_attn.v_proj.bias", {kv_dim});
    }
    if (f == Family::GptOss) {
      p.bias(l + "self_attn.o_proj.bias", {H});
      p.weight(l + "self_attn.sinks", {s.heads}, kSinkStd);
    }
    if (qk_norm) {
      p.norm(l + "self_attn.q_norm.weight", D, norm_one);
      p.norm(l + "self_attn.k_norm.weight", D, norm_one);
    }
    p.norm(l + "post_attention_layernorm.weight", H, norm_one);
    if (f == Family::Gemma3) {
      p.norm(l + "pre_feedforward_layernorm.weight", H, norm_one);
      p.norm(l + "post_feedforward_layernorm.weight", H, norm_one);
    }
    switch (f) {
      case Family::Mixtral:
        p.weight(l + "block_sparse_moe.gate.weight", {E, H});
        for (int64_t j = 0; j < E; ++j) {
          const std::string e = fmt::format("{}block_sparse_moe.experts.{}.", l, j);
          p.weight(e + "w1.weight", {F, H});  // gate
          p.weight(e + "w2.weight", {H, F});  // down
          p.weight(e + "w3.weight", {F, H});  // up
        }
        break;
      case Family::Qwen3Moe:
        p.weight(l + "mlp.gate.weight", {E, H});
        for (int64_t j = 0; j < E; ++j) {
          const std::string e = fmt::format("{}mlp.experts.{}.", l, j);
          p.weight(e + "gate_proj.weight", {F, H});
          p.weight(e + "up_proj.weight", {F, H});
          p.weight(e + "down_proj.weight", {H, F});
        }
        break;
      case Family::GptOss:
        p.weight(l + "mlp.router.weight", {E, H});
        p.bias(l + "mlp.router.bias", {E});
        // gate_up rows interleave gate (even) and up (odd) outputs, as in the release.
        p.mxfp4(l + "mlp.experts.gate_up_proj", E, 2 * F, H);
        p.bias(l + "mlp.experts.gate_up_proj_bias", {E, 2 * F});
        p.mxfp4(l + "mlp.experts.down_proj", E, H, F);
        p.bias(l + "mlp.experts.down_proj_bias", {E, H});
        break;
      default:
        p.weight(l + "mlp.gate_proj.weight", {F, H});
        p.weight(l + "mlp.up_proj.weight", {F, H});
        p.weight(l + "mlp.down_proj.weight", {H, F});
        break;
    }
  }
  p.norm("model.norm.weight", H, norm_one);
  if (!s.tie_embeddings) p.weight("lm_head.weight", {s.vocab, H});
  return std::move(p.out);
}

}  // namespace lp::testgen
