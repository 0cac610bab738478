// What the forward pass needs to know about a model: hyper-parameters, a per-layer description
// (attention kind, window, rope base, FFN variant) and weights bound by GGUF name into the mmap.
// Dense llama/mistral/qwen2/qwen3/gemma3 and the MoE families (mixtral, qwen3moe, gpt-oss: stacked expert
// tensors, router, attention sinks) run.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/ggml_type.h"
#include "engine/gguf_view.h"

namespace lp::engine {

// A weight matrix (or vector) inside the mapped file. rows = ne[1], cols = ne[0] (the dot length).
struct Weight {
  const GgufTensor* t = nullptr;
  explicit operator bool() const { return t != nullptr; }
  GgmlType type() const { return t->type; }
  int64_t cols() const { return t->ne[0]; }
  int64_t rows() const { return t->ne[1] * t->ne[2] * t->ne[3]; }
  // Stacked expert matrices [cols, rows_per_expert, n_expert]: expert e owns rows [e*ne[1], (e+1)*ne[1]).
  int64_t expert_rows() const { return t->ne[1]; }
  int64_t n_experts() const { return t->ne[2]; }
  const uint8_t* row(int64_t r) const { return t->data + static_cast<uint64_t>(r) * ggml_row_bytes(t->type, t->ne[0]); }
};

enum class RopeStyle { Normal, Neox };  // Normal rotates pairs (2i, 2i+1); NEOX rotates (i, i + d/2)
enum class AttentionKind { Full, Sliding };
enum class FfnKind { SwiGLU, GeGLU, SwiGLUOai };  // SwiGLUOai: gpt-oss's clamped SwiGLU (experts)
// How router logits become expert weights (llama.cpp's llama_expert_gating_func_type):
// Softmax: softmax over all experts, top-k of the probabilities (mixtral, qwen3moe);
// SoftmaxWeight: top-k of the logits, softmax over the k chosen (gpt-oss).
enum class MoeGating { Softmax, SoftmaxWeight };

struct RopeParams {
  RopeStyle style = RopeStyle::Normal;
  int n_dims = 0;            // rotated dimensions (head_dim unless rope.dimension_count says less)
  float freq_base = 10000.0f;
  float freq_scale = 1.0f;   // 1/factor for linear and yarn scaling
  float ext_factor = 0.0f;   // yarn: > 0 enables ramp mixing
  float attn_factor = 1.0f;
  float beta_fast = 32.0f, beta_slow = 1.0f;
  int n_ctx_orig = 0;
  const float* freq_factors = nullptr;  // rope_freqs.weight (llama3 scaling), n_dims/2 entries
};

// A mixture-of-experts FFN: router + stacked experts (3-D, one ggml type for the whole stack) with optional
// per-expert biases (gpt-oss) and an optional sigmoid-gated shared expert (qwen2moe-style).
struct MoeDesc {
  Weight router, router_bias;                  // ffn_gate_inp [n_embd, n_expert] (+ bias [n_expert])
  Weight gate_exps, up_exps, down_exps;        // [n_embd, n_ff_exp, n_expert], [n_ff_exp, n_embd, n_expert]
  Weight gate_exps_b, up_exps_b, down_exps_b;  // [n_ff_exp | n_embd, n_expert] F32
  Weight gate_shexp, up_shexp, down_shexp, router_shexp;
  explicit operator bool() const { return static_cast<bool>(router); }
};

struct LayerDesc {
  AttentionKind attention = AttentionKind::Full;
  int window = 0;  // sliding window in tokens (Sliding only)
  RopeParams rope;
  FfnKind ffn = FfnKind::SwiGLU;

  Weight attn_norm, wq, wk, wv, wo, bq, bk, bv, bo, q_norm, k_norm;
  Weight post_attn_norm;  // gemma3: norm on the attention output before the residual add
  Weight ffn_norm, gate, up, down;
  Weight post_ffn_norm;   // gemma3
  Weight attn_sinks;      // gpt-oss: one extra logit per head in the softmax denominator [n_head]
  MoeDesc moe;            // set for MoE layers (then gate/up/down are unset)
  bool attn_output_gate = false;  // qwen35: wq rows hold [query, gate] per head; output *= sigmoid(gate)

  // Per-layer attention shapes (gemma4: full layers have global_head_dim) and FFN width (double-wide MLP).
  int head_dim = 0, n_head_kv = 0, n_ff = 0;
  // gemma4 KV sharing: wk/wv unset, attention reads the KV cache of layer kv_source (-1: the layer's own KV).
  int kv_source = -1;
  bool v_norm = false;    // gemma4: v RMS-normed without weight
  // gemma4 per-layer embeddings, after the FFN: x += post_norm(proj(gelu(inp_gate x) * per-layer input)); x *= scale
  Weight ple_inp_gate, ple_proj, ple_post_norm, out_scale;

  // Gated DeltaNet linear attention (qwen35) instead of softmax attention: wq..wo unset.
  bool recurrent = false;
  Weight ssm_qkv, ssm_gate, ssm_beta, ssm_alpha;  // attn_qkv [n_embd, conv_dim], attn_gate [n_embd, v_dim], [n_embd, n_v]
  Weight ssm_conv1d;                              // [kernel, conv_dim] F32
  Weight ssm_dt, ssm_a, ssm_norm;                 // [n_v], [n_v] (-exp(A_log)), [head_dim] F32
  Weight ssm_out;                                 // [v_dim, n_embd]
};

struct HParams {
  std::string arch;  // general.architecture
  int n_vocab = 0, n_embd = 0, n_layer = 0, n_ff = 0;
  int n_head = 0, n_head_kv = 0, head_dim = 0;
  int n_ctx_train = 0;
  float rms_eps = 1e-5f;
  float embd_scale = 1.0f;           // gemma: sqrt(n_embd)
  float attn_scale = 0.0f;           // 0 = 1/sqrt(head_dim)
  float final_logit_softcap = 0.0f;  // gemma2-style, 0 = off
  bool norm_adds_one = false;        // gemma (1 + w) stored already-shifted by llama.cpp's converter; kept for HF loads

  // Mixture of experts (n_expert == 0 for dense models).
  int n_expert = 0, n_expert_used = 0;
  int n_ff_exp = 0;                  // expert FFN width (expert_feed_forward_length, else feed_forward_length)
  int n_ff_shexp = 0;                // shared expert width, 0 = none
  MoeGating gating = MoeGating::Softmax;
  bool expert_weights_norm = false;  // renormalise the k weights to sum 1 (llama.cpp: always for mixtral/qwen3moe)
  float expert_weights_scale = 0.0f; // 0 or 1 = no scaling
  float swiglu_alpha = 1.702f, swiglu_limit = 7.0f;  // gpt-oss (llama.cpp's constants; no GGUF key)
  bool is_moe() const { return n_expert > 0; }

  // Gated DeltaNet layers (qwen35; n_recurrent == 0 otherwise). Key and value heads share one head_dim
  // (ssm.state_size); value head h reads key head h % ssm_k_heads (llama.cpp's tiled V-head order).
  int n_recurrent = 0;               // recurrent layers
  int ssm_conv_kernel = 0, ssm_k_heads = 0, ssm_v_heads = 0, ssm_head_dim = 0;
  int ssm_conv_dim() const { return (2 * ssm_k_heads + ssm_v_heads) * ssm_head_dim; }

  // Largest per-layer sizes (buffers) and the KV cache row (gemma4's layers differ); set by Model::from_view.
  int max_head_dim = 0, max_kv_dim = 0, max_n_ff = 0;
  int n_embd_per_layer = 0;          // gemma4 PLE width per layer (0 = none)
};

struct TokenIds {
  int bos = -1, eos = -1, eot = -1, eom = -1, pad = -1;
  bool add_bos = false;
};

class Model {
 public:
  // Opens a GGUF and binds every weight; throws lp::Error naming the architecture/tensor it can't run.
  // `path` may also be a model folder: HF safetensors (F32/F16/BF16) or an MLX affine-quantized folder
  // (engine/folder_loader.h), presented as the GGUF our converter would write.
  static std::unique_ptr<Model> load(const std::string& path);
  static std::unique_ptr<Model> from_view(std::unique_ptr<GgufView> view);

  const GgufView& gguf() const { return *gguf_; }
  const HParams& hp() const { return hp_; }
  const TokenIds& tokens() const { return ids_; }
  const std::vector<LayerDesc>& layers() const { return layers_; }
  const Weight& token_embd() const { return token_embd_; }
  const Weight& output_norm() const { return output_norm_; }
  const Weight& output() const { return output_; }  // == token_embd when tied
  // gemma4 per-layer embeddings (unset otherwise): the table [n_layer * P, n_vocab], its projection and norm.
  const Weight& ple_embd() const { return ple_embd_; }
  const Weight& ple_model_proj() const { return ple_model_proj_; }
  const Weight& ple_proj_norm() const { return ple_proj_norm_; }
  bool is_end_token(int id) const { return id >= 0 && (id == ids_.eos || id == ids_.eot || id == ids_.eom); }
  uint64_t weight_bytes() const;

 private:
  std::unique_ptr<GgufView> gguf_;
  HParams hp_;
  TokenIds ids_;
  std::vector<LayerDesc> layers_;
  Weight token_embd_, output_norm_, output_;
  Weight ple_embd_, ple_model_proj_, ple_proj_norm_;
};

// Types the engine's matmul/embedding paths can read (clear error otherwise).
bool engine_supports_type(GgmlType type);

}  // namespace lp::engine
