// The transformer forward pass, top to bottom (llama2.c style), for a batch of n tokens at positions
// n_past..n_past+n-1:
//   x = embed(tokens) [* sqrt(d) for gemma]
//   per layer: x += Wo * attention(rope(Wq*norm(x)), rope(Wk*norm(x)), Wv*norm(x))   (+QK-norm, biases, sinks)
//              x += down(act(gate*norm(x)) * up*norm(x))                            (SwiGLU / GeGLU)
//           or x += sum over the k routed experts of weight * expert(norm(x))      (MoE: engine/moe.cpp)
//   logits = Wout * norm(x)
// The math follows llama.cpp's CPU graph (same RMSNorm accumulation, rope cache, f16 KV cache).
#include <omp.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <set>
#include <string>

#include "core/error.h"
#include "core/fp16.h"
#include "core/threads.h"
#include "engine/attention_ops.h"
#include "engine/context.h"

#include "core/threads.h"
#include "engine/matmul.h"

namespace lp::engine {
namespace {

void rms_norm(const float* x, const float* w, float* out, int n, float eps) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / n) + eps);
  for (int i = 0; i < n; ++i) out[i] = x[i] * scale * w[i];
}

const float* f32(const Weight& w) { return reinterpret_cast<const float*>(w.t->data); }

float silu(float x) { return x / (1.0f + std::exp(-x)); }
float gelu_tanh(float x) {
  constexpr float k = 0.7978845608028654f;  // sqrt(2/pi)
  return 0.5f * x * (1.0f + std::tanh(k * x * (1.0f + 0.044715f * x * x)));
}
// ggml's CPU GELU (GGML_GELU_FP16): a table over F16 inputs holding F16 outputs, exact outside (-10, 10).
float gelu_ggml(float x) {
  if (x <= -10.0f) return 0.0f;
  if (x >= 10.0f) return x;
  return f16_to_f32(f32_to_f16(gelu_tanh(f16_to_f32(f32_to_f16(x)))));
}

// ggml's rope: cos/sin per rotated pair, theta advanced by repeated multiplication, YaRN ramp optional.
struct RopeTable {
  std::vector<float> cs;  // [pair] -> cos, sin
  void build(const RopeParams& p, int pos) {
    const int n_pairs = p.n_dims / 2;
    cs.resize(2 * n_pairs);
    const float theta_scale = std::pow(p.freq_base, -2.0f / p.n_dims);
    float corr[2] = {0, 0};
    if (p.ext_factor != 0.0f) {
      auto corr_dim = [&](float n_rot) {
        return p.n_dims * std::log(p.n_ctx_orig / (n_rot * 2 * static_cast<float>(M_PI))) / (2 * std::log(p.freq_base));
      };
      corr[0] = std::max(0.0f, std::floor(corr_dim(p.beta_fast)));
      corr[1] = std::min(static_cast<float>(p.n_dims - 1), std::ceil(corr_dim(p.beta_slow)));
    }
    float theta = static_cast<float>(pos);
    for (int i = 0; i < n_pairs; ++i) {
      const float ff = p.freq_factors ? p.freq_factors[i] : 1.0f;
      const float theta_extrap = theta / ff;
      const float theta_interp = p.freq_scale * theta_extrap;
      float t = theta_interp, mscale = p.attn_factor;
      if (p.ext_factor != 0.0f) {
        const float y = (i - corr[0]) / std::max(0.001f, corr[1] - corr[0]);
        const float ramp = (1.0f - std::min(1.0f, std::max(0.0f, y))) * p.ext_factor;
        t = theta_interp * (1 - ramp) + theta_extrap * ramp;
        mscale *= 1.0f + 0.1f * std::log(1.0f / p.freq_scale);
      }
      cs[2 * i] = std::cos(t) * mscale;
      cs[2 * i + 1] = std::sin(t) * mscale;
      theta *= theta_scale;
    }
  }
  void apply(const RopeParams& p, float* v) const {
    const int half = p.n_dims / 2;
    for (int i = 0; i < half; ++i) {
      const float c = cs[2 * i], s = cs[2 * i + 1];
      const int a = p.style == RopeStyle::Neox ? i : 2 * i;
      const int b = p.style == RopeStyle::Neox ? i + half : 2 * i + 1;
      const float x0 = v[a], x1 = v[b];
      v[a] = x0 * c - x1 * s;
      v[b] = x0 * s + x1 * c;
    }
  }
};

// Layers with a KV cache of their own: all but the recurrent (Gated DeltaNet) and the KV-sharing (gemma4) ones.
int kv_layer_count(const Model& m) {
  int n = 0;
  for (const auto& L : m.layers()) n += !L.recurrent && L.kv_source < 0;
  return n;
}

}  // namespace

int default_thread_count() { return physical_cores(); }

Context::Context(const Model& model, const ContextOptions& o)
    : model_(model),
      n_ctx_(o.n_ctx > 0 ? o.n_ctx : model.hp().n_ctx_train),
      n_batch_(std::max(1, o.n_batch)),
      threads_(o.threads > 0 ? o.threads : default_thread_count()),
      n_seq_(std::max(1, o.n_seq)),
      seq_ctx_(n_ctx_ / n_seq_),
      cache_(o.cache_type_k, o.cache_type_v, kv_layer_count(model), seq_ctx_ * n_seq_, model.hp().max_kv_dim),
      seq_past_(n_seq_, 0) {
  if (seq_ctx_ < 1) fail("a context of {} tokens cannot hold {} sequences", n_ctx_, n_seq_);
  const HParams& hp = model.hp();
  const size_t B = n_batch_;
  int next_kv = 0;  // KV cache slot of each attention layer (recurrent layers have none; KV-sharing layers read their
                    // source layer's)
  for (const auto& L : model.layers())
    kv_index_.push_back(L.recurrent ? -1 : L.kv_source >= 0 ? kv_index_[static_cast<size_t>(L.kv_source)] : next_kv++);
  const size_t max_ff = std::max(hp.n_ff, hp.max_n_ff), q_max = size_t(hp.n_head) * std::max(hp.head_dim, hp.max_head_dim);
  x_.resize(B * hp.n_embd);
  xn_.resize(B * std::max<size_t>(hp.n_embd, max_ff));
  q_.resize(B * q_max);
  k_.resize(B * hp.max_kv_dim);
  v_.resize(B * hp.max_kv_dim);
  attn_.resize(B * q_max);
  o_.resize(B * hp.n_embd);
  gate_.resize(B * max_ff);
  up_.resize(B * max_ff);
  if (hp.n_embd_per_layer > 0) {
    ple_.resize(B * hp.n_layer * hp.n_embd_per_layer);
    ple_g_.resize(B * hp.n_embd_per_layer);
  }
  bool gated = false;
  for (const auto& L : model.layers()) gated |= L.attn_output_gate;
  if (gated) {
    qg_.resize(B * 2 * q_max);
    ag_.resize(B * q_max);
  }
  if (hp.n_recurrent > 0) {
    rec_index_.assign(hp.n_layer, -1);
    int r = 0;
    for (int il = 0; il < hp.n_layer; ++il)
      if (model.layers()[il].recurrent) rec_index_[il] = r++;
    const size_t C = hp.ssm_conv_dim(), hd = hp.ssm_head_dim, vd = size_t(hp.ssm_v_heads) * hd;
    conv_state_.assign(size_t(n_seq_) * r * (hp.ssm_conv_kernel - 1) * C, 0.0f);
    ssm_state_.assign(size_t(n_seq_) * r * hp.ssm_v_heads * hd * hd, 0.0f);
    qkv_.resize(B * C);
    conv_out_.resize(C);
    z_.resize(B * vd);
    beta_.resize(B * hp.ssm_v_heads);
    alpha_.resize(B * hp.ssm_v_heads);
    attn_.resize(std::max(attn_.size(), B * vd));
  }
}

void Context::seq_truncate(int seq, int n) {
  n = std::max(0, n);
  if (n >= seq_past_[seq]) return;
  if (!can_rewind()) {
    if (n != 0)
      fail("sequence {}: this model's recurrent layers cannot rewind from {} to {} tokens (only to 0)", seq, seq_past_[seq], n);
    clear_recurrent(seq);
  }
  seq_past_[seq] = n;
}

void Context::eval(std::span<const int32_t> tokens, bool all_logits) {
  const int n = static_cast<int>(tokens.size());
  if (n == 0) return;
  const int p0 = seq_past_[0];
  if (p0 + n > seq_ctx_) fail("context is full: {} cached + {} new tokens > context size {}", p0, n, seq_ctx_);
  std::vector<BatchRow> rows(n);
  for (int i = 0; i < n; ++i) rows[i] = {0, p0 + i, tokens[i], all_logits || i == n - 1};
  decode(rows);
}

void Context::decode(std::span<const BatchRow> rows) {
  const int n = static_cast<int>(rows.size());
  if (n == 0) return;
  const int vocab = model_.hp().n_vocab;
  std::vector<int> next(seq_past_);
  int n_logits = 0;
  for (const BatchRow& r : rows) {
    if (r.seq < 0 || r.seq >= n_seq_) fail("sequence id {} is outside 0..{}", r.seq, n_seq_ - 1);
    if (r.token < 0 || r.token >= vocab) fail("token id {} is outside the vocabulary (0..{})", r.token, vocab - 1);
    if (r.pos != next[r.seq]) fail("sequence {}: position {} does not continue its {} cached tokens", r.seq, r.pos, next[r.seq]);
    if (r.pos >= seq_ctx_) fail("context is full: sequence {} holds {} tokens", r.seq, seq_ctx_);
    ++next[r.seq];
    n_logits += r.logits;
  }
  logits_.resize(static_cast<size_t>(std::max(1, n_logits)) * vocab);
  int done_logits = 0;
  const ObserverScope observing(&observers_);  // this context's observers, for this pass only
  for (int done = 0; done < n; done += n_batch_) {
    const int nb = std::min(n_batch_, n - done);
    forward_batch(rows.data() + done, nb, logits_.data() + static_cast<size_t>(done_logits) * vocab);
    for (int i = 0; i < nb; ++i) done_logits += rows[done + i].logits;
  }
}

void Context::seq_copy(int src, int dst, int n) {
  if (src < 0 || src >= n_seq_ || dst < 0 || dst >= n_seq_) fail("seq_copy: sequence {} or {} is outside 0..{}", src, dst, n_seq_ - 1);
  if (n < 0 || n > seq_past_[src]) fail("seq_copy: sequence {} holds {} tokens, not {}", src, seq_past_[src], n);
  if (!can_rewind()) {
    if (n != 0 && n != seq_past_[src])
      fail("seq_copy: this model's recurrent state exists only for all {} tokens of sequence {}, not {}", seq_past_[src], src, n);
    if (n == 0) clear_recurrent(dst);
    else if (src != dst)
      for (int il = 0; il < model_.hp().n_layer; ++il) {
        if (rec_index_[il] < 0) continue;
        const HParams& hp = model_.hp();
        const size_t nc = size_t(hp.ssm_conv_kernel - 1) * hp.ssm_conv_dim();
        const size_t ns = size_t(hp.ssm_v_heads) * hp.ssm_head_dim * hp.ssm_head_dim;
        std::copy(conv_state(src, il), conv_state(src, il) + nc, conv_state(dst, il));
        std::copy(ssm_state(src, il), ssm_state(src, il) + ns, ssm_state(dst, il));
      }
  }
  cache_.copy_cells(src * seq_ctx_, dst * seq_ctx_, n);
  seq_past_[dst] = n;
}

int Context::cells_used() const {
  int s = 0;
  for (int p : seq_past_) s += p;
  return s;
}

void Context::forward_batch(const BatchRow* rows, int n, float* out_logits) {
  const HParams& hp = model_.hp();
  const int d = hp.n_embd, nh = hp.n_head;
  const size_t kv_row = static_cast<size_t>(hp.max_kv_dim);  // KV cache row (the widest layer's n_head_kv * head_dim)
  auto cell = [&](int t) { return rows[t].seq * seq_ctx_ + rows[t].pos; };  // row t's KV cell
  int max_pos = 0;
  for (int t = 0; t < n; ++t) max_pos = std::max(max_pos, int(rows[t].pos));

  // 1. token embeddings
  for (int t = 0; t < n; ++t) {
    float* xt = &x_[static_cast<size_t>(t) * d];
    weight_row(model_.token_embd(), rows[t].token, xt);
    if (hp.embd_scale != 1.0f)
      for (int i = 0; i < d; ++i) xt[i] *= hp.embd_scale;
  }

  // 1b. gemma4 per-layer inputs (llama.cpp's build_inp_per_layer + project_per_layer_inputs): per token and layer,
  // (rmsnorm(per_layer_model_proj x / sqrt(d)) + per_layer_token_embd[token] * sqrt(P)) / sqrt(2)
  const int P = hp.n_embd_per_layer, LP = hp.n_layer * P;
  if (P > 0) {
    matmul(model_.ple_model_proj(), x_.data(), n, ple_.data(), threads_);
    std::vector<float> row(static_cast<size_t>(LP));
    const float proj_scale = 1.0f / std::sqrt(static_cast<float>(d)), embd_scale = std::sqrt(static_cast<float>(P));
    const float in_scale = 1.0f / std::sqrt(2.0f);
    for (int t = 0; t < n; ++t) {
      float* pt = &ple_[size_t(t) * LP];
      weight_row(model_.ple_embd(), rows[t].token, row.data());
      for (int il = 0; il < hp.n_layer; ++il) {
        float* s = pt + size_t(il) * P;
        for (int i = 0; i < P; ++i) s[i] *= proj_scale;
        rms_norm(s, f32(model_.ple_proj_norm()), s, P, hp.rms_eps);
        for (int i = 0; i < P; ++i) s[i] = (s[i] + row[size_t(il) * P + i] * embd_scale) * in_scale;
      }
    }
  }

  RopeTable rope;
  for (int il = 0; il < hp.n_layer; ++il) {
    const LayerDesc& L = model_.layers()[il];
    const int hd = L.head_dim > 0 ? L.head_dim : hp.head_dim, nkv = L.n_head_kv > 0 ? L.n_head_kv : hp.n_head_kv;
    const int q_dim = nh * hd, kv_dim = nkv * hd, group = nh / nkv;
    const float kq_scale = hp.attn_scale > 0 ? hp.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd));

    // 2. attention block (or a Gated DeltaNet layer: engine/linear_attention.cpp)
    for (int t = 0; t < n; ++t) rms_norm(&x_[size_t(t) * d], f32(L.attn_norm), &xn_[size_t(t) * d], d, hp.rms_eps);
    if (L.recurrent) {
      linear_attention(L, il, rows, n);
    } else {
    const int kvl = kv_index_[il];
    if (L.attn_output_gate) {  // qwen35: each head's rows are [query (hd), gate (hd)]
      matmul(L.wq, xn_.data(), n, qg_.data(), threads_);
      for (int t = 0; t < n; ++t)
        for (int h = 0; h < nh; ++h) {
          const float* src = &qg_[(size_t(t) * nh + h) * 2 * hd];
          std::copy(src, src + hd, &q_[size_t(t) * q_dim + size_t(h) * hd]);
          std::copy(src + hd, src + 2 * hd, &ag_[size_t(t) * q_dim + size_t(h) * hd]);
        }
    } else {
      matmul(L.wq, xn_.data(), n, q_.data(), threads_);
    }
    const bool own_kv = L.kv_source < 0;  // gemma4 KV-sharing layers only compute q
    if (own_kv) {
      matmul(L.wk, xn_.data(), n, k_.data(), threads_);
      if (L.wv) matmul(L.wv, xn_.data(), n, v_.data(), threads_);
      else std::copy(k_.begin(), k_.begin() + size_t(n) * kv_dim, v_.begin());  // gemma4 k_eq_v: v = k (before k_norm)
    }
    for (int t = 0; t < n; ++t) {
      float* q = &q_[size_t(t) * q_dim];
      float* k = &k_[size_t(t) * kv_dim];
      float* v = &v_[size_t(t) * kv_dim];
      if (L.bq) for (int i = 0; i < q_dim; ++i) q[i] += f32(L.bq)[i];
      if (L.q_norm) for (int h = 0; h < nh; ++h) rms_norm(q + h * hd, f32(L.q_norm), q + h * hd, hd, hp.rms_eps);
      rope.build(L.rope, rows[t].pos);
      for (int h = 0; h < nh; ++h) rope.apply(L.rope, q + h * hd);
      if (!own_kv) continue;
      if (L.bk) for (int i = 0; i < kv_dim; ++i) k[i] += f32(L.bk)[i];
      if (L.bv) for (int i = 0; i < kv_dim; ++i) v[i] += f32(L.bv)[i];
      if (L.k_norm) for (int h = 0; h < nkv; ++h) rms_norm(k + h * hd, f32(L.k_norm), k + h * hd, hd, hp.rms_eps);
      if (L.v_norm)
        for (int h = 0; h < nkv; ++h) {  // RMSNorm without weight
          double ss = 0;
          for (int i = 0; i < hd; ++i) ss += double(v[h * hd + i]) * v[h * hd + i];
          const float sc = 1.0f / std::sqrt(static_cast<float>(ss / hd) + hp.rms_eps);
          for (int i = 0; i < hd; ++i) v[h * hd + i] *= sc;
        }
      for (int h = 0; h < nkv; ++h) rope.apply(L.rope, k + h * hd);
      cache_.store_k(kvl, cell(t), k);
      cache_.store_v(kvl, cell(t), v);
    }

    // Causal (and sliding-window) softmax attention; one (token, head) pair per task.
    const int window = L.attention == AttentionKind::Sliding ? L.window : 0;
    const float* sinks = L.attn_sinks ? f32(L.attn_sinks) : nullptr;  // gpt-oss: one more logit per head, no value
    const bool f16_cache = cache_.k_type() == CacheType::F16 && cache_.v_type() == CacheType::F16;
#pragma omp parallel num_threads(threads_)
    {
      std::vector<float> scores(std::max(2, group) * size_t(max_pos + 1)), tile(f16_cache ? 0 : size_t(kAttendTile) * hd);
#pragma omp for schedule(dynamic, 1) collapse(2)
      for (int t = 0; t < n; ++t) {
        for (int h = 0; h < nh; ++h) {
          // Positions first..pos of row t's own sequence: cells base+first..base+pos. The group's first head
          // attends for all heads sharing this KV head (each K/V row is converted once for the group).
          if (h % group != 0) continue;
          const int pos = rows[t].pos, kvh = h / group, base = rows[t].seq * seq_ctx_;
          const int first = window > 0 ? std::max(0, pos - window + 1) : 0;
          const float* q = &q_[size_t(t) * q_dim + size_t(h) * hd];
          float* out = &attn_[size_t(t) * q_dim + size_t(h) * hd];
          if (f16_cache) {
            const F16Rows k_rows{cache_.k_f16(kvl, base) + kvh * hd, kv_row};
            const F16Rows v_rows{cache_.v_f16(kvl, base) + kvh * hd, kv_row};
            attend_f16_heads(q, group, k_rows, v_rows, first, pos, hd, kq_scale, sinks ? &sinks[h] : nullptr, scores.data(), out);
          } else {
            const CacheRows k_rows{cache_.k_row(kvl, base), cache_.k_row_bytes(), cache_.k_type(), kvh * hd};
            const CacheRows v_rows{cache_.v_row(kvl, base), cache_.v_row_bytes(), cache_.v_type(), kvh * hd};
            attend_rows(q, group, k_rows, v_rows, first, pos, hd, kq_scale, sinks ? &sinks[h] : nullptr, scores.data(),
                        tile.data(), out);
          }
        }
      }
    }
    if (L.attn_output_gate)
      for (size_t i = 0; i < size_t(n) * q_dim; ++i) attn_[i] *= 1.0f / (1.0f + std::exp(-ag_[i]));
    matmul(L.wo, attn_.data(), n, o_.data(), threads_);
    }  // softmax attention
    for (int t = 0; t < n; ++t) {
      float* o = &o_[size_t(t) * d];
      if (L.bo) for (int i = 0; i < d; ++i) o[i] += f32(L.bo)[i];
      if (L.post_attn_norm) rms_norm(o, f32(L.post_attn_norm), o, d, hp.rms_eps);
      float* x = &x_[size_t(t) * d];
      for (int i = 0; i < d; ++i) x[i] += o[i];
    }

    // 3. feed-forward block
    for (int t = 0; t < n; ++t) rms_norm(&x_[size_t(t) * d], f32(L.ffn_norm), &xn_[size_t(t) * d], d, hp.rms_eps);
    if (L.moe) {
      moe_ffn(hp, L, il, xn_.data(), n, o_.data(), moe_, threads_);
    } else {
      matmul(L.gate, xn_.data(), n, gate_.data(), threads_);
      matmul(L.up, xn_.data(), n, up_.data(), threads_);
      const size_t nf = size_t(n) * (L.n_ff > 0 ? L.n_ff : hp.n_ff);
      if (L.ffn == FfnKind::GeGLU && L.v_norm)  // gemma4: llama.cpp's table GELU (its scale-1 attention amplifies the difference)
        for (size_t i = 0; i < nf; ++i) gate_[i] = gelu_ggml(gate_[i]) * up_[i];
      else if (L.ffn == FfnKind::GeGLU)
        for (size_t i = 0; i < nf; ++i) gate_[i] = gelu_tanh(gate_[i]) * up_[i];
      else
        for (size_t i = 0; i < nf; ++i) gate_[i] = silu(gate_[i]) * up_[i];
      matmul(L.down, gate_.data(), n, o_.data(), threads_);
    }
    for (int t = 0; t < n; ++t) {
      float* o = &o_[size_t(t) * d];
      if (L.post_ffn_norm) rms_norm(o, f32(L.post_ffn_norm), o, d, hp.rms_eps);
      float* x = &x_[size_t(t) * d];
      for (int i = 0; i < d; ++i) x[i] += o[i];
    }

    // 4. gemma4: the layer's per-layer input, gated in, then the layer scalar
    if (P > 0) {
      matmul(L.ple_inp_gate, x_.data(), n, ple_g_.data(), threads_);
      for (int t = 0; t < n; ++t) {
        float* g = &ple_g_[size_t(t) * P];
        const float* in = &ple_[size_t(t) * LP + size_t(il) * P];
        for (int i = 0; i < P; ++i) g[i] = gelu_ggml(g[i]) * in[i];
      }
      matmul(L.ple_proj, ple_g_.data(), n, o_.data(), threads_);
      for (int t = 0; t < n; ++t) {
        float* o = &o_[size_t(t) * d];
        rms_norm(o, f32(L.ple_post_norm), o, d, hp.rms_eps);
        float* x = &x_[size_t(t) * d];
        for (int i = 0; i < d; ++i) x[i] += o[i];
      }
    }
    if (L.out_scale) {
      const float s = f32(L.out_scale)[0];
      for (size_t i = 0; i < size_t(n) * d; ++i) x_[i] *= s;
    }
  }
  for (int t = 0; t < n; ++t) seq_past_[rows[t].seq] = rows[t].pos + 1;

  // 4. output head: the flagged rows' logits, in row order
  int m = 0;
  for (int t = 0; t < n; ++t)
    if (rows[t].logits) rms_norm(&x_[size_t(t) * d], f32(model_.output_norm()), &xn_[size_t(m++) * d], d, hp.rms_eps);
  if (m == 0) return;
  matmul(model_.output(), xn_.data(), m, out_logits, threads_);
  if (hp.final_logit_softcap > 0) {
    const float c = hp.final_logit_softcap;
    for (size_t i = 0; i < size_t(m) * hp.n_vocab; ++i) out_logits[i] = c * std::tanh(out_logits[i] / c);
  }
}

}  // namespace lp::engine
