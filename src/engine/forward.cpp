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

}  // namespace

int default_thread_count() { return physical_cores(); }

Context::Context(const Model& model, const ContextOptions& o)
    : model_(model),
      n_ctx_(o.n_ctx > 0 ? o.n_ctx : model.hp().n_ctx_train),
      n_batch_(std::max(1, o.n_batch)),
      threads_(o.threads > 0 ? o.threads : default_thread_count()),
      cache_(o.cache_type, model.hp().n_layer, n_ctx_, model.hp().n_head_kv * model.hp().head_dim) {
  const HParams& hp = model.hp();
  const size_t B = n_batch_;
  x_.resize(B * hp.n_embd);
  xn_.resize(B * std::max(hp.n_embd, hp.n_ff));
  q_.resize(B * hp.n_head * hp.head_dim);
  k_.resize(B * hp.n_head_kv * hp.head_dim);
  v_.resize(B * hp.n_head_kv * hp.head_dim);
  attn_.resize(B * hp.n_head * hp.head_dim);
  o_.resize(B * hp.n_embd);
  gate_.resize(B * hp.n_ff);
  up_.resize(B * hp.n_ff);
}

void Context::eval(std::span<const int32_t> tokens, bool all_logits) {
  const int n = static_cast<int>(tokens.size());
  if (n == 0) return;
  if (n_past_ + n > n_ctx_) fail("context is full: {} cached + {} new tokens > context size {}", n_past_, n, n_ctx_);
  const int vocab = model_.hp().n_vocab;
  for (int32_t t : tokens)
    if (t < 0 || t >= vocab) fail("token id {} is outside the vocabulary (0..{})", t, vocab - 1);
  logits_.resize(static_cast<size_t>(all_logits ? n : 1) * vocab);
  const ObserverScope observing(&observers_);
  for (int done = 0; done < n; done += n_batch_) {
    const int nb = std::min(n_batch_, n - done);
    const bool last = done + nb == n;
    float* out = all_logits ? logits_.data() + static_cast<size_t>(done) * vocab : (last ? logits_.data() : nullptr);
    forward_batch(tokens.data() + done, nb, all_logits, out);
  }
}

void Context::forward_batch(const int32_t* tokens, int n, bool all_logits, float* out_logits) {
  const HParams& hp = model_.hp();
  const int d = hp.n_embd, hd = hp.head_dim, nh = hp.n_head, nkv = hp.n_head_kv;
  const int q_dim = nh * hd, kv_dim = nkv * hd, group = nh / nkv;
  const int p0 = n_past_;
  const float kq_scale = hp.attn_scale > 0 ? hp.attn_scale : 1.0f / std::sqrt(static_cast<float>(hd));

  // 1. token embeddings
  for (int t = 0; t < n; ++t) {
    float* xt = &x_[static_cast<size_t>(t) * d];
    weight_row(model_.token_embd(), tokens[t], xt);
    if (hp.embd_scale != 1.0f)
      for (int i = 0; i < d; ++i) xt[i] *= hp.embd_scale;
  }

  RopeTable rope;
  for (int il = 0; il < hp.n_layer; ++il) {
    const LayerDesc& L = model_.layers()[il];

    // 2. attention block
    for (int t = 0; t < n; ++t) rms_norm(&x_[size_t(t) * d], f32(L.attn_norm), &xn_[size_t(t) * d], d, hp.rms_eps);
    matmul(L.wq, xn_.data(), n, q_.data(), threads_);
    matmul(L.wk, xn_.data(), n, k_.data(), threads_);
    matmul(L.wv, xn_.data(), n, v_.data(), threads_);
    for (int t = 0; t < n; ++t) {
      float* q = &q_[size_t(t) * q_dim];
      float* k = &k_[size_t(t) * kv_dim];
      float* v = &v_[size_t(t) * kv_dim];
      if (L.bq) for (int i = 0; i < q_dim; ++i) q[i] += f32(L.bq)[i];
      if (L.bk) for (int i = 0; i < kv_dim; ++i) k[i] += f32(L.bk)[i];
      if (L.bv) for (int i = 0; i < kv_dim; ++i) v[i] += f32(L.bv)[i];
      if (L.q_norm) for (int h = 0; h < nh; ++h) rms_norm(q + h * hd, f32(L.q_norm), q + h * hd, hd, hp.rms_eps);
      if (L.k_norm) for (int h = 0; h < nkv; ++h) rms_norm(k + h * hd, f32(L.k_norm), k + h * hd, hd, hp.rms_eps);
      rope.build(L.rope, p0 + t);
      for (int h = 0; h < nh; ++h) rope.apply(L.rope, q + h * hd);
      for (int h = 0; h < nkv; ++h) rope.apply(L.rope, k + h * hd);
      cache_.store_k(il, p0 + t, k);
      cache_.store_v(il, p0 + t, v);
    }

    // Causal (and sliding-window) softmax attention; one (token, head) pair per task.
    const int window = L.attention == AttentionKind::Sliding ? L.window : 0;
    const float* sinks = L.attn_sinks ? f32(L.attn_sinks) : nullptr;  // gpt-oss: one more logit per head, no value
    const bool f16_cache = cache_.type() == CacheType::F16;
#pragma omp parallel num_threads(threads_)
    {
      std::vector<float> scores(2 * size_t(p0 + n)), kv(hd), acc(hd);
#pragma omp for schedule(dynamic, 1) collapse(2)
      for (int t = 0; t < n; ++t) {
        for (int h = 0; h < nh; ++h) {
          const int pos = p0 + t, kvh = h / group;
          const int first = window > 0 ? std::max(0, pos - window + 1) : 0;
          const float* q = &q_[size_t(t) * q_dim + size_t(h) * hd];
          if (f16_cache) {  // the group's first head attends for all heads sharing this KV head
            if (h % group != 0) continue;
            const F16Rows k_rows{cache_.k_f16(il, 0) + kvh * hd, size_t(kv_dim)};
            const F16Rows v_rows{cache_.v_f16(il, 0) + kvh * hd, size_t(kv_dim)};
            attend_f16_heads(q, group, k_rows, v_rows, first, pos, hd, kq_scale, sinks ? &sinks[h] : nullptr,
                             scores.data(), &attn_[size_t(t) * q_dim + size_t(h) * hd]);
            continue;
          }
          float mx = -INFINITY;
          for (int j = first; j <= pos; ++j) {
            cache_.load_k(il, j, kvh * hd, hd, kv.data());
            float s = 0.0f;
            for (int i = 0; i < hd; ++i) s += q[i] * kv[i];
            scores[j] = s * kq_scale;
            mx = std::max(mx, scores[j]);
          }
          if (sinks) mx = std::max(mx, sinks[h]);
          double sum = sinks ? std::exp(sinks[h] - mx) : 0.0;
          for (int j = first; j <= pos; ++j) {
            scores[j] = std::exp(scores[j] - mx);
            sum += scores[j];
          }
          const float inv = static_cast<float>(1.0 / sum);
          std::fill(acc.begin(), acc.end(), 0.0f);
          for (int j = first; j <= pos; ++j) {
            const float w = scores[j] * inv;
            cache_.load_v(il, j, kvh * hd, hd, kv.data());
            for (int i = 0; i < hd; ++i) acc[i] += w * kv[i];
          }
          std::copy(acc.begin(), acc.end(), &attn_[size_t(t) * q_dim + size_t(h) * hd]);
        }
      }
    }
    matmul(L.wo, attn_.data(), n, o_.data(), threads_);
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
      const size_t nf = size_t(n) * hp.n_ff;
      if (L.ffn == FfnKind::GeGLU)
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
  }
  n_past_ += n;

  // 4. output head: every token's logits, or only the last one's
  if (!out_logits) return;
  const int first = all_logits ? 0 : n - 1;
  const int m = n - first;
  for (int t = first; t < n; ++t) rms_norm(&x_[size_t(t) * d], f32(model_.output_norm()), &xn_[size_t(t - first) * d], d, hp.rms_eps);
  matmul(model_.output(), xn_.data(), m, out_logits, threads_);
  if (hp.final_logit_softcap > 0) {
    const float c = hp.final_logit_softcap;
    for (size_t i = 0; i < size_t(m) * hp.n_vocab; ++i) out_logits[i] = c * std::tanh(out_logits[i] / c);
  }
}

}  // namespace lp::engine
