#include "engine/model.h"

#include <cmath>
#include <filesystem>

#include "core/error.h"
#include "engine/folder_loader.h"

namespace lp::engine {
namespace {

bool is_supported_family(const std::string& a) {
  return a == "llama" || a == "qwen2" || a == "qwen3" || a == "gemma3" || a == "qwen3moe" || a == "gpt-oss";
}

RopeStyle rope_style_for(const std::string& arch) {
  // llama.cpp: llama's converter permutes Q/K so "normal" rope applies; Qwen and Gemma keep HF layout (NEOX).
  return arch == "llama" ? RopeStyle::Normal : RopeStyle::Neox;
}

class Binder {
 public:
  Binder(const GgufView& g, const std::string& arch) : g_(g), arch_(arch) {}
  Weight required(const std::string& name) const {
    const GgufTensor* t = g_.tensor(name);
    if (!t) fail("{}: {} model is missing tensor {}", g_.path(), arch_, name);
    check_type(*t);
    return Weight{t};
  }
  Weight optional(const std::string& name) const {
    const GgufTensor* t = g_.tensor(name);
    if (t) check_type(*t);
    return Weight{t};
  }
  void check_shape(const Weight& w, int64_t cols, int64_t rows) const {
    if (w && (w.cols() != cols || w.rows() != rows))
      fail("{}: tensor {} has shape [{}, {}], expected [{}, {}]", g_.path(), w.t->name, w.cols(), w.rows(), cols, rows);
  }
  void check_experts(const Weight& w, int64_t cols, int64_t rows, int64_t n_expert) const {
    if (w.t->ne[0] != cols || w.t->ne[1] != rows || w.t->ne[2] != n_expert || w.t->ne[3] != 1)
      fail("{}: expert tensor {} has shape [{}, {}, {}], expected [{}, {}, {}] (expert_count {})", g_.path(), w.t->name, w.t->ne[0],
           w.t->ne[1], w.t->ne[2], cols, rows, n_expert, n_expert);
  }
  const std::string& path() const { return g_.path(); }

 private:
  void check_type(const GgufTensor& t) const {
    if (t.mlx) return;  // MLX affine weights: bits/group validated when the folder was loaded
    if (!engine_supports_type(t.type))
      fail("{}: {} tensor {} has type {} which the CPU engine cannot run yet", g_.path(), arch_, t.name, ggml_type_name(t.type));
  }
  const GgufView& g_;
  const std::string& arch_;
};

// MoE hyper-parameters as llama.cpp reads them (llama-model.cpp load_hparams and each graph's build_moe_ffn call).
void read_moe_hparams(const GgufView& g, HParams& hp) {
  const std::string& a = hp.arch;
  hp.n_expert_used = static_cast<int>(g.get_int(a + ".expert_used_count").value_or(0));
  if (hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert)
    fail("{}: {}.expert_used_count {} must be in 1..expert_count ({})", g.path(), a, hp.n_expert_used, hp.n_expert);
  hp.n_ff_exp = static_cast<int>(g.get_int(a + ".expert_feed_forward_length").value_or(hp.n_ff));
  if (hp.n_ff_exp <= 0) fail("{}: {} MoE model has neither expert_feed_forward_length nor feed_forward_length", g.path(), a);
  hp.n_ff_shexp = static_cast<int>(g.get_int(a + ".expert_shared_feed_forward_length").value_or(0));
  const bool gptoss = a == "gpt-oss";
  hp.gating = gptoss ? MoeGating::SoftmaxWeight : MoeGating::Softmax;
  // llama.cpp passes norm_w = true for mixtral and qwen3moe and false for gpt-oss, whatever the file says;
  // an explicit expert_weights_norm key (written by llama.cpp's converter for some families) still wins.
  hp.expert_weights_norm = g.get_bool(a + ".expert_weights_norm").value_or(!gptoss);
  hp.expert_weights_scale = static_cast<float>(g.get_float(a + ".expert_weights_scale").value_or(0.0));
}

void bind_moe(const Binder& bind, const HParams& hp, const std::string& p, MoeDesc& moe) {
  const int64_t d = hp.n_embd, nf = hp.n_ff_exp, ne = hp.n_expert;
  moe.router = bind.required(p + "ffn_gate_inp.weight");
  bind.check_shape(moe.router, d, ne);
  moe.router_bias = bind.optional(p + "ffn_gate_inp.bias");
  bind.check_shape(moe.router_bias, ne, 1);
  moe.gate_exps = bind.required(p + "ffn_gate_exps.weight");
  moe.up_exps = bind.required(p + "ffn_up_exps.weight");
  moe.down_exps = bind.required(p + "ffn_down_exps.weight");
  bind.check_experts(moe.gate_exps, d, nf, ne);
  bind.check_experts(moe.up_exps, d, nf, ne);
  bind.check_experts(moe.down_exps, nf, d, ne);
  moe.gate_exps_b = bind.optional(p + "ffn_gate_exps.bias");
  moe.up_exps_b = bind.optional(p + "ffn_up_exps.bias");
  moe.down_exps_b = bind.optional(p + "ffn_down_exps.bias");
  bind.check_shape(moe.gate_exps_b, nf, ne);
  bind.check_shape(moe.up_exps_b, nf, ne);
  bind.check_shape(moe.down_exps_b, d, ne);
  if (hp.n_ff_shexp > 0) {
    moe.gate_shexp = bind.required(p + "ffn_gate_shexp.weight");
    moe.up_shexp = bind.required(p + "ffn_up_shexp.weight");
    moe.down_shexp = bind.required(p + "ffn_down_shexp.weight");
    moe.router_shexp = bind.required(p + "ffn_gate_inp_shexp.weight");
    bind.check_shape(moe.gate_shexp, d, hp.n_ff_shexp);
    bind.check_shape(moe.up_shexp, d, hp.n_ff_shexp);
    bind.check_shape(moe.down_shexp, hp.n_ff_shexp, d);
    bind.check_shape(moe.router_shexp, d, 1);
    if (moe.router_shexp.t->mlx || moe.router_shexp.type() != GgmlType::F32)
      fail("{}: shared-expert gate {} must be F32", bind.path(), moe.router_shexp.t->name);
  }
}

}  // namespace

uint64_t Model::weight_bytes() const {
  uint64_t n = 0;
  for (const auto& t : gguf_->tensors()) n += t.nbytes;
  return n;
}

std::unique_ptr<Model> Model::load(const std::string& path) {
  if (std::filesystem::is_directory(path)) return from_view(load_model_folder(path));
  return from_view(std::make_unique<GgufView>(path));
}

std::unique_ptr<Model> Model::from_view(std::unique_ptr<GgufView> view) {
  auto m = std::unique_ptr<Model>(new Model());
  m->gguf_ = std::move(view);
  const GgufView& g = *m->gguf_;
  const std::string& path = g.path();
  HParams& hp = m->hp_;
  hp.arch = g.get_string("general.architecture").value_or("");
  if (hp.arch.empty()) fail("{}: general.architecture is missing", path);
  if (!is_supported_family(hp.arch))
    fail("{}: architecture '{}' is not supported by the CPU engine yet (llama, mistral, mixtral, qwen2, qwen3, qwen3moe, gemma3, gpt-oss are)",
         path, hp.arch);
  const std::string& a = hp.arch;
  auto need_int = [&](const std::string& key) {
    auto v = g.get_int(a + "." + key);
    if (!v) fail("{}: metadata {}.{} is missing", path, a, key);
    return static_cast<int>(*v);
  };
  hp.n_embd = need_int("embedding_length");
  hp.n_layer = need_int("block_count");
  hp.n_expert = static_cast<int>(g.get_int(a + ".expert_count").value_or(0));
  // MoE files may omit the dense width (every FFN is routed); dense ones must carry it.
  hp.n_ff = hp.n_expert > 0 ? static_cast<int>(g.get_int(a + ".feed_forward_length").value_or(0)) : need_int("feed_forward_length");
  hp.n_head = need_int("attention.head_count");
  hp.n_head_kv = static_cast<int>(g.get_int(a + ".attention.head_count_kv").value_or(hp.n_head));
  hp.head_dim = static_cast<int>(g.get_int(a + ".attention.key_length").value_or(hp.n_embd / hp.n_head));
  hp.n_ctx_train = static_cast<int>(g.get_int(a + ".context_length").value_or(2048));
  hp.rms_eps = static_cast<float>(g.get_float(a + ".attention.layer_norm_rms_epsilon").value_or(1e-5));
  if (hp.n_head_kv <= 0 || hp.n_head % hp.n_head_kv != 0) fail("{}: head_count {} is not a multiple of head_count_kv {}", path, hp.n_head, hp.n_head_kv);
  if (auto vl = g.get_int(a + ".attention.value_length"); vl && *vl != hp.head_dim)
    fail("{}: value_length {} != key_length {} is not supported", path, *vl, hp.head_dim);

  Binder bind(g, a);
  m->token_embd_ = bind.required("token_embd.weight");
  hp.n_vocab = static_cast<int>(m->token_embd_.rows());
  bind.check_shape(m->token_embd_, hp.n_embd, hp.n_vocab);
  m->output_norm_ = bind.required("output_norm.weight");
  m->output_ = bind.optional("output.weight");
  if (!m->output_) m->output_ = m->token_embd_;  // tied embeddings
  bind.check_shape(m->output_, hp.n_embd, hp.n_vocab);

  // RoPE: base, scaling type (linear / yarn), llama3 frequency factors.
  RopeParams rope;
  rope.style = rope_style_for(a);
  rope.n_dims = static_cast<int>(g.get_int(a + ".rope.dimension_count").value_or(hp.head_dim));
  rope.freq_base = static_cast<float>(g.get_float(a + ".rope.freq_base").value_or(10000.0));
  rope.n_ctx_orig = static_cast<int>(g.get_int(a + ".rope.scaling.original_context_length").value_or(hp.n_ctx_train));
  const std::string scaling = g.get_string(a + ".rope.scaling.type").value_or("none");
  double factor = g.get_float(a + ".rope.scaling.factor").value_or(0.0);
  if (factor == 0.0) factor = g.get_float(a + ".rope.scale_linear").value_or(1.0);
  if (scaling == "linear" || (scaling == "none" && factor != 1.0)) {
    rope.freq_scale = static_cast<float>(1.0 / factor);
  } else if (scaling == "yarn") {
    rope.freq_scale = static_cast<float>(1.0 / factor);
    rope.ext_factor = 1.0f;
    rope.attn_factor = static_cast<float>(g.get_float(a + ".rope.scaling.attn_factor").value_or(1.0));
    rope.beta_fast = static_cast<float>(g.get_float(a + ".rope.scaling.yarn_beta_fast").value_or(32.0));
    rope.beta_slow = static_cast<float>(g.get_float(a + ".rope.scaling.yarn_beta_slow").value_or(1.0));
  } else if (scaling != "none" && scaling != "llama3") {
    fail("{}: rope scaling type '{}' is not supported", path, scaling);
  }
  if (const GgufTensor* ff = g.tensor("rope_freqs.weight")) {
    if (ff->mlx || ff->type != GgmlType::F32 || ff->ne[0] != rope.n_dims / 2) fail("{}: rope_freqs.weight must be F32 with {} entries", path, rope.n_dims / 2);
    rope.freq_factors = reinterpret_cast<const float*>(ff->data);
  }

  if (hp.n_expert > 0) read_moe_hparams(g, hp);
  const bool gptoss = a == "gpt-oss";
  const bool gemma = a == "gemma3";
  if (gemma) {
    hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
    hp.rms_eps = static_cast<float>(g.get_float(a + ".attention.layer_norm_rms_epsilon").value_or(1e-6));
  }
  const int window = static_cast<int>(g.get_int(a + ".attention.sliding_window").value_or(0));
  // gpt-oss: llama.cpp's set_swa_pattern(period): layer il slides when il % period < period - 1 (even layers).
  const int gptoss_period = static_cast<int>(g.get_int(a + ".attention.sliding_window_pattern").value_or(2));
  const float swa_base = static_cast<float>(g.get_float(a + ".rope.freq_base_swa").value_or(rope.freq_base));

  const int64_t q_dim = int64_t{hp.n_head} * hp.head_dim, kv_dim = int64_t{hp.n_head_kv} * hp.head_dim;
  m->layers_.resize(hp.n_layer);
  for (int il = 0; il < hp.n_layer; ++il) {
    LayerDesc& L = m->layers_[il];
    const std::string p = "blk." + std::to_string(il) + ".";
    L.rope = rope;
    if (gemma) {
      // Gemma 3: five sliding-window layers (rope base 10k) per global layer (the file's rope base).
      L.ffn = FfnKind::GeGLU;
      if (window > 0 && il % 6 < 5) {
        L.attention = AttentionKind::Sliding;
        L.window = window;
        L.rope.freq_base = 10000.0f;
        L.rope.freq_scale = 1.0f;
      }
    }
    if (gptoss && window > 0 && gptoss_period > 0 && il % gptoss_period < gptoss_period - 1) {
      L.attention = AttentionKind::Sliding;
      L.window = window;
      L.rope.freq_base = swa_base;
    }
    L.attn_norm = bind.required(p + "attn_norm.weight");
    L.wq = bind.required(p + "attn_q.weight");
    L.wk = bind.required(p + "attn_k.weight");
    L.wv = bind.required(p + "attn_v.weight");
    L.wo = bind.required(p + "attn_output.weight");
    L.bq = bind.optional(p + "attn_q.bias");
    L.bk = bind.optional(p + "attn_k.bias");
    L.bv = bind.optional(p + "attn_v.bias");
    L.bo = bind.optional(p + "attn_output.bias");
    L.q_norm = bind.optional(p + "attn_q_norm.weight");
    L.k_norm = bind.optional(p + "attn_k_norm.weight");
    if (gptoss) {
      // gpt-oss's "post_attention_norm" is its pre-FFN norm (llama.cpp: attn_post_norm feeds the MoE).
      L.ffn_norm = bind.required(p + "post_attention_norm.weight");
      L.attn_sinks = bind.required(p + "attn_sinks.weight");
      bind.check_shape(L.attn_sinks, hp.n_head, 1);
    } else {
      L.post_attn_norm = bind.optional(p + "post_attention_norm.weight");
      L.ffn_norm = bind.required(p + "ffn_norm.weight");
    }
    if (hp.n_expert > 0) {
      bind_moe(bind, hp, p, L.moe);
      if (gptoss) L.ffn = FfnKind::SwiGLUOai;
    } else {
      L.gate = bind.required(p + "ffn_gate.weight");
      L.up = bind.required(p + "ffn_up.weight");
      L.down = bind.required(p + "ffn_down.weight");
      bind.check_shape(L.gate, hp.n_embd, hp.n_ff);
      bind.check_shape(L.up, hp.n_embd, hp.n_ff);
      bind.check_shape(L.down, hp.n_ff, hp.n_embd);
    }
    L.post_ffn_norm = bind.optional(p + "post_ffw_norm.weight");
    bind.check_shape(L.wq, hp.n_embd, q_dim);
    bind.check_shape(L.wk, hp.n_embd, kv_dim);
    bind.check_shape(L.wv, hp.n_embd, kv_dim);
    bind.check_shape(L.wo, q_dim, hp.n_embd);
    for (const Weight* v : {&L.attn_norm, &L.ffn_norm, &L.q_norm, &L.k_norm, &L.bq, &L.bk, &L.bv, &L.bo, &L.post_attn_norm,
                            &L.post_ffn_norm, &L.attn_sinks, &L.moe.router_bias, &L.moe.gate_exps_b, &L.moe.up_exps_b, &L.moe.down_exps_b})
      if (*v && (v->t->mlx || v->type() != GgmlType::F32)) fail("{}: vector tensor {} must be F32, found {}", path, v->t->name, ggml_type_name(v->type()));
  }

  TokenIds& ids = m->ids_;
  auto id = [&](const char* key) { return static_cast<int>(g.get_int(std::string("tokenizer.ggml.") + key).value_or(-1)); };
  ids.bos = id("bos_token_id");
  ids.eos = id("eos_token_id");
  ids.eot = id("eot_token_id");
  ids.eom = id("eom_token_id");
  ids.pad = id("padding_token_id");
  const std::string tok_model = g.get_string("tokenizer.ggml.model").value_or("");
  // llama.cpp's default when the key is absent: SentencePiece-style vocabularies add BOS, BPE ones do not.
  ids.add_bos = g.get_bool("tokenizer.ggml.add_bos_token").value_or(tok_model == "llama" || tok_model == "gemma" || tok_model.empty());
  return m;
}

}  // namespace lp::engine
