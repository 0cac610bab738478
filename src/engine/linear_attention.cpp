// Gated DeltaNet linear attention (qwen35), the recurrent form, as llama.cpp's graph computes it
// (src/models/qwen35.cpp build_layer_attn_linear, delta-net-base.cpp build_delta_net_autoregressive):
//   qkv = W_qkv x;  z = W_gate x;  beta = sigmoid(W_beta x);  g = softplus(W_alpha x + dt_bias) * A  (A = -exp(A_log))
//   qkv = silu(causal depthwise conv over the last `kernel` inputs of each channel)        (conv state: kernel-1 inputs)
//   q, k = l2-normalised per key head; value head h reads key head h % n_k (the converter tiled the value heads)
//   per value head:  S *= exp(g);  S += k (beta (v - S k))^T;  o = S q / sqrt(head_dim)        (S: head_dim x head_dim)
//   out = W_out (rmsnorm(o) * w_norm * silu(z))
// Prefill runs the same recurrence token by token (the chunked form is an optimisation, not a different result).
// The state lives per sequence beside the KV cache (Context::conv_state / ssm_state).
#include <cmath>

#include "engine/context.h"
#include "engine/matmul.h"

namespace lp::engine {
namespace {

const float* la_f32(const Weight& w) { return reinterpret_cast<const float*>(w.t->data); }
float la_silu(float x) { return x / (1.0f + std::exp(-x)); }
float softplus(float x) { return x > 20.0f ? x : std::log(1.0f + std::exp(x)); }  // ggml's op_softplus

void l2_norm(float* x, int n, float eps) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::max(std::sqrt(static_cast<float>(sum)), eps);
  for (int i = 0; i < n; ++i) x[i] *= scale;
}

void rms_norm(float* x, const float* w, int n, float eps) {
  double sum = 0.0;
  for (int i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  const float scale = 1.0f / std::sqrt(static_cast<float>(sum / n) + eps);
  for (int i = 0; i < n; ++i) x[i] = x[i] * scale * w[i];
}

}  // namespace

float* Context::conv_state(int seq, int il) {
  const HParams& hp = model_.hp();
  const size_t per = size_t(hp.ssm_conv_kernel - 1) * hp.ssm_conv_dim();
  return conv_state_.data() + (size_t(seq) * hp.n_recurrent + rec_index_[il]) * per;
}

float* Context::ssm_state(int seq, int il) {
  const HParams& hp = model_.hp();
  const size_t per = size_t(hp.ssm_v_heads) * hp.ssm_head_dim * hp.ssm_head_dim;
  return ssm_state_.data() + (size_t(seq) * hp.n_recurrent + rec_index_[il]) * per;
}

void Context::clear_recurrent(int seq) {
  const HParams& hp = model_.hp();
  for (int il = 0; il < hp.n_layer; ++il) {
    if (rec_index_.empty() || rec_index_[il] < 0) continue;
    std::fill_n(conv_state(seq, il), size_t(hp.ssm_conv_kernel - 1) * hp.ssm_conv_dim(), 0.0f);
    std::fill_n(ssm_state(seq, il), size_t(hp.ssm_v_heads) * hp.ssm_head_dim * hp.ssm_head_dim, 0.0f);
  }
}

void Context::linear_attention(const LayerDesc& L, int il, const BatchRow* rows, int n) {
  const HParams& hp = model_.hp();
  const int K = hp.ssm_conv_kernel, C = hp.ssm_conv_dim(), hd = hp.ssm_head_dim, nk = hp.ssm_k_heads, nv = hp.ssm_v_heads;
  const int kd = nk * hd, vd = nv * hd;
  matmul(L.ssm_qkv, xn_.data(), n, qkv_.data(), threads_);
  matmul(L.ssm_gate, xn_.data(), n, z_.data(), threads_);
  matmul(L.ssm_beta, xn_.data(), n, beta_.data(), threads_);
  matmul(L.ssm_alpha, xn_.data(), n, alpha_.data(), threads_);
  const float* w = la_f32(L.ssm_conv1d);  // [C][K]
  const float *dt = la_f32(L.ssm_dt), *A = la_f32(L.ssm_a), *wn = la_f32(L.ssm_norm);
  const float scale = 1.0f / std::sqrt(static_cast<float>(hd));
  float* conv = conv_out_.data();

  // Rows in order: each updates its own sequence's state, so rows of one sequence must come in position order
  // (Context::decode checks that positions continue).
  for (int t = 0; t < n; ++t) {
    const int seq = rows[t].seq;
    float* cs = conv_state(seq, il);
    const float* x = &qkv_[size_t(t) * C];
    for (int c = 0; c < C; ++c) {
      const float* wc = w + size_t(c) * K;
      float acc = 0.0f;
      for (int j = 0; j < K - 1; ++j) acc += cs[size_t(j) * C + c] * wc[j];
      acc += x[c] * wc[K - 1];
      conv[c] = la_silu(acc);
    }
    for (int j = 0; j + 1 < K - 1; ++j) std::copy_n(cs + size_t(j + 1) * C, C, cs + size_t(j) * C);
    if (K > 1) std::copy_n(x, C, cs + size_t(K - 2) * C);
    for (int g = 0; g < nk; ++g) {
      l2_norm(conv + g * hd, hd, hp.rms_eps);
      l2_norm(conv + kd + g * hd, hd, hp.rms_eps);
    }
    float* S0 = ssm_state(seq, il);
    float* out = &attn_[size_t(t) * vd];
    for (int h = 0; h < nv; ++h) {
      const float* q = conv + (h % nk) * hd;
      const float* k = conv + kd + (h % nk) * hd;
      const float* v = conv + 2 * kd + h * hd;
      const float beta = 1.0f / (1.0f + std::exp(-beta_[size_t(t) * nv + h]));
      const float decay = std::exp(softplus(alpha_[size_t(t) * nv + h] + dt[h]) * A[h]);
      float* S = S0 + size_t(h) * hd * hd;  // S[i * hd + j]: value dim i, key dim j
      float* o = out + h * hd;
      for (int i = 0; i < hd; ++i) {
        float* Si = S + size_t(i) * hd;
        float sk = 0.0f;
        for (int j = 0; j < hd; ++j) {
          Si[j] *= decay;
          sk += Si[j] * k[j];
        }
        const float di = (v[i] - sk) * beta;
        float oi = 0.0f;
        for (int j = 0; j < hd; ++j) {
          Si[j] += k[j] * di;
          oi += Si[j] * q[j];
        }
        o[i] = oi * scale;
      }
      rms_norm(o, wn, hd, hp.rms_eps);
      const float* z = &z_[size_t(t) * vd + h * hd];
      for (int i = 0; i < hd; ++i) o[i] *= la_silu(z[i]);
    }
  }
  matmul(L.ssm_out, attn_.data(), n, o_.data(), threads_);
}

}  // namespace lp::engine
