#include "engine/model.h"

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "arch/arch.h"
#include "core/error.h"

namespace lp::engine {
namespace {

arch::HParams arch_hparams(const GgufView& g) {
  try {
    return arch::hparams_from_gguf([&](std::string_view key) -> std::optional<GgufValue> {
      const GgufValue* v = g.find(std::string(key));
      if (!v) return std::nullopt;
      return *v;
    });
  } catch (const Error& e) {
    fail("{}: {}", g.path(), e.what());
  }
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
void read_moe_hparams(const GgufView& g, const arch::HParams& ah, HParams& hp) {
  const std::string& a = hp.arch;
  hp.n_expert_used = ah.n_expert_used;
  if (hp.n_expert_used <= 0 || hp.n_expert_used > hp.n_expert)
    fail("{}: {}.expert_used_count {} must be in 1..expert_count ({})", g.path(), a, hp.n_expert_used, hp.n_expert);
  hp.n_ff_exp = ah.n_ff_expert;
  if (hp.n_ff_exp <= 0) fail("{}: {} MoE model has neither expert_feed_forward_length nor feed_forward_length", g.path(), a);
  hp.n_ff_shexp = static_cast<int>(g.get_int(a + ".expert_shared_feed_forward_length").value_or(0));
  hp.gating = ah.router_gating == arch::RouterGating::TopKThenSoftmax ? MoeGating::SoftmaxWeight : MoeGating::Softmax;
  // llama.cpp passes norm_w = true for the softmax-then-top-k families (mixtral, qwen3moe) and false for gpt-oss,
  // whatever the file says; an explicit expert_weights_norm key (written by llama.cpp's converter for some
  // families) still wins.
  hp.expert_weights_norm = g.get_bool(a + ".expert_weights_norm").value_or(hp.gating == MoeGating::Softmax);
  hp.expert_weights_scale = static_cast<float>(g.get_float(a + ".expert_weights_scale").value_or(0.0));
  hp.swiglu_alpha = static_cast<float>(ah.swiglu_alpha > 0 ? ah.swiglu_alpha : hp.swiglu_alpha);
  hp.swiglu_limit = static_cast<float>(ah.swiglu_limit > 0 ? ah.swiglu_limit : hp.swiglu_limit);
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
  return from_view(open_model_view(path));
}

std::unique_ptr<Model> Model::from_view(std::unique_ptr<GgufView> view) {
  auto m = std::unique_ptr<Model>(new Model());
  m->gguf_ = std::move(view);
  const GgufView& g = *m->gguf_;
  const std::string& path = g.path();
  HParams& hp = m->hp_;
  hp.arch = g.get_string("general.architecture").value_or("");
  if (hp.arch.empty()) fail("{}: general.architecture is missing", path);
  const auto family = arch::family_from_gguf_arch(hp.arch, g.get_int(hp.arch + ".expert_count").value_or(0) > 0);
  if (!family || !arch::engine_runs(*family))
    fail("{}: architecture '{}' is not supported by the CPU engine yet ({} are)", path, hp.arch, arch::engine_families_text());
  // Every family-specific fact (layer kinds, windows, rope bases, FFN kind, router) comes from the family's
  // description through the GGUF keys; what follows is the same for every family.
  const arch::HParams ah = arch_hparams(g);
  const std::string& a = hp.arch;
  hp.n_embd = ah.n_embd;
  hp.n_layer = ah.n_layer;
  hp.n_expert = ah.n_expert;
  // MoE files may omit the dense width (every FFN is routed); dense ones must carry it.
  hp.n_ff = ah.n_ff;
  if (hp.n_expert == 0 && !g.has(a + ".feed_forward_length")) fail("{}: metadata {}.feed_forward_length is missing", path, a);
  hp.n_head = ah.n_head;
  hp.n_head_kv = ah.n_head_kv;
  hp.head_dim = ah.head_dim;
  hp.n_ctx_train = static_cast<int>(ah.n_ctx_train);
  hp.rms_eps = static_cast<float>(ah.rms_eps);
  const int64_t key_length = g.get_int(a + ".attention.key_length").value_or(hp.head_dim);
  if (auto vl = g.get_int(a + ".attention.value_length"); vl && *vl != key_length)
    fail("{}: value_length {} != key_length {} is not supported", path, *vl, key_length);
  if (auto vl = g.get_int(a + ".attention.value_length_swa"); vl && *vl != hp.head_dim)
    fail("{}: value_length_swa {} != key_length_swa {} is not supported", path, *vl, hp.head_dim);
  if (ah.embed_scale) hp.embd_scale = std::sqrt(static_cast<float>(hp.n_embd));
  hp.attn_scale = ah.attn_scale;  // 1/sqrt(head_dim), or gemma4's 1 (its q/k are RMS-normed)
  hp.final_logit_softcap = ah.final_logit_softcapping;  // {arch}.final_logit_softcapping (gemma4: 30)
  const bool gemma4 = *family == arch::Family::Gemma4;

  Binder bind(g, a);
  auto name = [&](arch::Role role, int il = -1, bool bias = false) { return arch::gguf_tensor_name(ah, role, il, bias); };
  m->token_embd_ = bind.required(name(arch::Role::TokenEmbd));
  hp.n_vocab = static_cast<int>(m->token_embd_.rows());
  bind.check_shape(m->token_embd_, hp.n_embd, hp.n_vocab);
  m->output_norm_ = bind.required(name(arch::Role::OutputNorm));
  m->output_ = bind.optional(name(arch::Role::Output));
  if (!m->output_) m->output_ = m->token_embd_;  // tied embeddings
  bind.check_shape(m->output_, hp.n_embd, hp.n_vocab);
  hp.n_embd_per_layer = ah.n_embd_per_layer;
  const int64_t n_ple = int64_t{hp.n_layer} * hp.n_embd_per_layer;
  if (hp.n_embd_per_layer > 0) {  // gemma4 per-layer embeddings
    m->ple_embd_ = bind.required(name(arch::Role::PleEmbd));
    m->ple_model_proj_ = bind.required(name(arch::Role::PleModelProj));
    m->ple_proj_norm_ = bind.required(name(arch::Role::PleProjNorm));
    bind.check_shape(m->ple_embd_, n_ple, hp.n_vocab);
    bind.check_shape(m->ple_model_proj_, hp.n_embd, n_ple);
    bind.check_shape(m->ple_proj_norm_, hp.n_embd_per_layer, 1);
    if (m->ple_proj_norm_.t->mlx || m->ple_proj_norm_.type() != GgmlType::F32)
      fail("{}: tensor {} must be F32", path, m->ple_proj_norm_.t->name);
  }

  // RoPE: base, scaling type (linear / yarn), llama3 frequency factors.
  RopeParams rope;
  rope.style = ah.rope_interleaved ? RopeStyle::Normal : RopeStyle::Neox;
  rope.n_dims = static_cast<int>(g.get_int(a + ".rope.dimension_count").value_or(hp.head_dim));
  rope.freq_base = static_cast<float>(ah.rope_theta);
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
  if (const GgufTensor* ff = g.tensor(name(arch::Role::RopeFreqs))) {
    if (ff->mlx || ff->type != GgmlType::F32 || ff->ne[0] != rope.n_dims / 2) fail("{}: rope_freqs.weight must be F32 with {} entries", path, rope.n_dims / 2);
    rope.freq_factors = reinterpret_cast<const float*>(ff->data);
  }

  if (hp.n_expert > 0) read_moe_hparams(g, ah, hp);
  const FfnKind dense_ffn = ah.ffn_act == arch::FfnAct::GeluTanhGlu ? FfnKind::GeGLU : FfnKind::SwiGLU;
  const FfnKind moe_ffn = ah.ffn_act == arch::FfnAct::GptOssSwiglu ? FfnKind::SwiGLUOai : dense_ffn;

  if (ah.full_attention_interval > 0) {
    hp.ssm_conv_kernel = ah.ssm_conv_kernel;
    hp.ssm_k_heads = ah.ssm_k_heads;
    hp.ssm_v_heads = ah.ssm_v_heads;
    hp.ssm_head_dim = ah.ssm_head_v_dim;
    if (hp.ssm_conv_kernel < 1 || hp.ssm_head_dim < 1) fail("{}: {}.ssm.conv_kernel and ssm.state_size must be positive", path, a);
    for (const auto& k : ah.layers) hp.n_recurrent += k.recurrent;
  }
  m->layers_.resize(hp.n_layer);
  for (int il = 0; il < hp.n_layer; ++il) {
    LayerDesc& L = m->layers_[il];
    const arch::LayerKind& kind = ah.layers[il];
    auto req = [&](arch::Role role, bool bias = false) { return bind.required(name(role, il, bias)); };
    auto opt = [&](arch::Role role, bool bias = false) { return bind.optional(name(role, il, bias)); };
    L.rope = rope;
    L.ffn = dense_ffn;
    L.head_dim = ah.layer_head_dim(il);
    L.n_head_kv = ah.layer_n_head_kv(il);
    L.n_ff = ah.layer_n_ff(il);
    const int64_t q_dim = int64_t{hp.n_head} * L.head_dim, kv_dim = int64_t{L.n_head_kv} * L.head_dim;
    if (L.n_head_kv <= 0 || hp.n_head % L.n_head_kv != 0) fail("{}: layer {}: {} heads over {} KV heads", path, il, hp.n_head, L.n_head_kv);
    if (kind.sliding) {
      // llama.cpp: sliding layers use rope.freq_base_swa, and (gemma3) an unscaled rope.
      L.attention = AttentionKind::Sliding;
      L.window = kind.window;
      L.rope.freq_base = static_cast<float>(kind.rope_theta);
      if (!kind.rope_scaled) L.rope.freq_scale = 1.0f;
      if (gemma4) {  // llama.cpp's gemma4: rope_freqs (proportional rope) on full layers only; n_rot_swa dims
        L.rope.freq_factors = nullptr;
        L.rope.n_dims = static_cast<int>(g.get_int(a + ".rope.dimension_count_swa").value_or(L.head_dim));
      }
    }
    if (L.rope.n_dims <= 0 || L.rope.n_dims > L.head_dim || L.rope.n_dims % 2 != 0)
      fail("{}: layer {}: {} rotary dims do not fit head size {}", path, il, L.rope.n_dims, L.head_dim);
    L.attn_norm = req(arch::Role::AttnNorm);
    if (kind.recurrent) {
      const int64_t conv_dim = hp.ssm_conv_dim(), v_dim = int64_t{hp.ssm_v_heads} * hp.ssm_head_dim;
      L.recurrent = true;
      L.ssm_qkv = req(arch::Role::SsmQkv);
      L.ssm_gate = req(arch::Role::SsmGate);
      L.ssm_beta = req(arch::Role::SsmBeta);
      L.ssm_alpha = req(arch::Role::SsmAlpha);
      L.ssm_conv1d = req(arch::Role::SsmConv1d);
      L.ssm_dt = req(arch::Role::SsmDt, true);
      L.ssm_a = req(arch::Role::SsmA);
      L.ssm_norm = req(arch::Role::SsmNorm);
      L.ssm_out = req(arch::Role::SsmOut);
      bind.check_shape(L.ssm_qkv, hp.n_embd, conv_dim);
      bind.check_shape(L.ssm_gate, hp.n_embd, v_dim);
      bind.check_shape(L.ssm_beta, hp.n_embd, hp.ssm_v_heads);
      bind.check_shape(L.ssm_alpha, hp.n_embd, hp.ssm_v_heads);
      bind.check_shape(L.ssm_conv1d, hp.ssm_conv_kernel, conv_dim);
      bind.check_shape(L.ssm_dt, hp.ssm_v_heads, 1);
      bind.check_shape(L.ssm_a, hp.ssm_v_heads, 1);
      bind.check_shape(L.ssm_norm, hp.ssm_head_dim, 1);
      bind.check_shape(L.ssm_out, v_dim, hp.n_embd);
      for (const Weight* v : {&L.ssm_conv1d, &L.ssm_dt, &L.ssm_a, &L.ssm_norm})
        if (v->t->mlx || v->type() != GgmlType::F32) fail("{}: tensor {} must be F32, found {}", path, v->t->name, ggml_type_name(v->type()));
    } else {
      L.wq = req(arch::Role::AttnQ);
      if (kind.kv_shared) {
        // llama.cpp's gemma4 KV reuse: the last non-shared full (sliding) layer is first_shared - 1 (- 2).
        const int first_shared = hp.n_layer - ah.n_kv_shared_layers;
        L.kv_source = first_shared - (kind.sliding ? 2 : 1);
        if (L.kv_source < 0 || ah.layers[L.kv_source].sliding != kind.sliding || ah.layer_head_dim(L.kv_source) != L.head_dim ||
            ah.layer_n_head_kv(L.kv_source) != L.n_head_kv)
          fail("{}: layer {} shares the KV of layer {}, which is not a layer of the same kind", path, il, L.kv_source);
      } else {
        L.wk = req(arch::Role::AttnK);
        L.wv = gemma4 ? opt(arch::Role::AttnV) : req(arch::Role::AttnV);  // gemma4 attention_k_eq_v: v = k
        bind.check_shape(L.wk, hp.n_embd, kv_dim);
        bind.check_shape(L.wv, hp.n_embd, kv_dim);
      }
      L.v_norm = gemma4;
      L.wo = req(arch::Role::AttnO);
      L.attn_output_gate = ah.attn_output_gate;
      bind.check_shape(L.wq, hp.n_embd, L.attn_output_gate ? 2 * q_dim : q_dim);
      bind.check_shape(L.wo, q_dim, hp.n_embd);
    }
    L.bq = opt(arch::Role::AttnQ, true);
    L.bk = opt(arch::Role::AttnK, true);
    L.bv = opt(arch::Role::AttnV, true);
    L.bo = opt(arch::Role::AttnO, true);
    L.q_norm = opt(arch::Role::AttnQNorm);
    L.k_norm = opt(arch::Role::AttnKNorm);
    L.ffn_norm = req(arch::Role::FfnNorm);
    if (ah.attn_sinks) {
      L.attn_sinks = req(arch::Role::AttnSinks);
      bind.check_shape(L.attn_sinks, hp.n_head, 1);
    }
    const std::string post_attn = name(arch::Role::AttnPostNorm, il);
    if (post_attn != name(arch::Role::FfnNorm, il)) L.post_attn_norm = bind.optional(post_attn);
    if (hp.n_expert > 0) {
      bind_moe(bind, hp, "blk." + std::to_string(il) + ".", L.moe);
      L.ffn = moe_ffn;
    } else {
      L.gate = req(arch::Role::FfnGate);
      L.up = req(arch::Role::FfnUp);
      L.down = req(arch::Role::FfnDown);
      bind.check_shape(L.gate, hp.n_embd, L.n_ff);
      bind.check_shape(L.up, hp.n_embd, L.n_ff);
      bind.check_shape(L.down, L.n_ff, hp.n_embd);
    }
    L.post_ffn_norm = opt(arch::Role::FfnPostNorm);
    if (hp.n_embd_per_layer > 0) {
      L.ple_inp_gate = req(arch::Role::PleInpGate);
      L.ple_proj = req(arch::Role::PleProj);
      L.ple_post_norm = req(arch::Role::PlePostNorm);
      bind.check_shape(L.ple_inp_gate, hp.n_embd, hp.n_embd_per_layer);
      bind.check_shape(L.ple_proj, hp.n_embd_per_layer, hp.n_embd);
      bind.check_shape(L.ple_post_norm, hp.n_embd, 1);
    }
    L.out_scale = opt(arch::Role::LayerOutScale);
    bind.check_shape(L.out_scale, 1, 1);
    hp.max_head_dim = std::max(hp.max_head_dim, L.head_dim);
    hp.max_n_ff = std::max(hp.max_n_ff, L.n_ff);
    if (!L.recurrent && L.kv_source < 0) hp.max_kv_dim = std::max<int>(hp.max_kv_dim, static_cast<int>(kv_dim));
    for (const Weight* v : {&L.attn_norm, &L.ffn_norm, &L.q_norm, &L.k_norm, &L.bq, &L.bk, &L.bv, &L.bo, &L.post_attn_norm,
                            &L.post_ffn_norm, &L.attn_sinks, &L.ple_post_norm, &L.out_scale, &L.moe.router_bias, &L.moe.gate_exps_b, &L.moe.up_exps_b, &L.moe.down_exps_b})
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
