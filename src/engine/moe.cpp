#include "engine/moe.h"

#include <algorithm>
#include <cmath>
#include <numeric>

#include "core/error.h"
#include "engine/matmul.h"
#include "engine/observers.h"

namespace lp::engine {
namespace {

const float* moe_f32(const Weight& w) { return reinterpret_cast<const float*>(w.t->data); }

// ggml_soft_max: exp(x - max) with a double sum, then one float scale.
void softmax(const float* x, float* y, int n) {
  float mx = -INFINITY;
  for (int i = 0; i < n; ++i) mx = std::max(mx, x[i]);
  double sum = 0.0;
  for (int i = 0; i < n; ++i) {
    y[i] = std::exp(x[i] - mx);
    sum += y[i];
  }
  const float inv = static_cast<float>(1.0 / sum);
  for (int i = 0; i < n; ++i) y[i] *= inv;
}

float moe_silu(float x) { return x / (1.0f + std::exp(-x)); }

// Expert activation in place on gate (n values), up unchanged.
void activate(FfnKind kind, const HParams& hp, float* gate, const float* up, size_t n) {
  if (kind == FfnKind::SwiGLUOai) {
    // ggml_swiglu_oai: x = min(gate, limit), y = clamp(up, -limit, limit), x * sigmoid(alpha x) * (y + 1).
    const float alpha = hp.swiglu_alpha, limit = hp.swiglu_limit;
    for (size_t i = 0; i < n; ++i) {
      const float x = std::min(gate[i], limit), y = std::clamp(up[i], -limit, limit);
      gate[i] = x / (1.0f + std::exp(alpha * -x)) * (y + 1.0f);
    }
    return;
  }
  if (kind == FfnKind::GeGLU) fail("engine: GeGLU experts are not supported");
  for (size_t i = 0; i < n; ++i) gate[i] = moe_silu(gate[i]) * up[i];
}

void add_rows(float* y, const float* bias, int n_rows, int n) {
  for (int r = 0; r < n_rows; ++r)
    for (int i = 0; i < n; ++i) y[size_t(r) * n + i] += bias[i];
}

// Dense sigmoid-gated shared expert (qwen2moe-style), added to out.
void shared_expert(const HParams& hp, const MoeDesc& m, const float* xn, int n, float* out, MoeScratch& s, int threads) {
  const int d = hp.n_embd, nf = hp.n_ff_shexp;
  s.shared_gate.resize(size_t(n) * nf);
  s.shared_up.resize(size_t(n) * nf);
  s.down.resize(size_t(n) * d);
  matmul(m.gate_shexp, xn, n, s.shared_gate.data(), threads);
  matmul(m.up_shexp, xn, n, s.shared_up.data(), threads);
  activate(FfnKind::SwiGLU, hp, s.shared_gate.data(), s.shared_up.data(), s.shared_gate.size());
  matmul(m.down_shexp, s.shared_gate.data(), n, s.down.data(), threads);
  float g = 0.0f;
  for (int t = 0; t < n; ++t) {
    matmul(m.router_shexp, xn + size_t(t) * d, 1, &g, 1);
    const float w = 1.0f / (1.0f + std::exp(-g));
    for (int i = 0; i < d; ++i) out[size_t(t) * d + i] += w * s.down[size_t(t) * d + i];
  }
}

}  // namespace

void route_token(const float* logits, const RouterConfig& cfg, int32_t* selected, float* weights) {
  const int ne = cfg.n_expert, k = cfg.k;
  thread_local std::vector<float> probs;  // per-token scratch without a heap allocation per call
  thread_local std::vector<int32_t> ids;
  probs.assign(logits, logits + ne);
  if (cfg.gating == MoeGating::Softmax) softmax(logits, probs.data(), ne);
  ids.resize(ne);
  std::iota(ids.begin(), ids.end(), 0);
  std::partial_sort(ids.begin(), ids.begin() + k, ids.end(),
                    [&](int32_t a, int32_t b) { return probs[a] > probs[b] || (probs[a] == probs[b] && a < b); });
  for (int j = 0; j < k; ++j) {
    selected[j] = ids[j];
    weights[j] = probs[ids[j]];
  }
  if (cfg.gating == MoeGating::SoftmaxWeight) softmax(weights, weights, k);
  if (cfg.normalize) {
    float sum = 0.0f;
    for (int j = 0; j < k; ++j) sum += weights[j];
    sum = std::max(sum, 6.103515625e-5f);  // llama.cpp clamps to the smallest normal F16
    for (int j = 0; j < k; ++j) weights[j] /= sum;
  }
  if (cfg.scale != 0.0f && cfg.scale != 1.0f)
    for (int j = 0; j < k; ++j) weights[j] *= cfg.scale;
}

void moe_ffn(const HParams& hp, const LayerDesc& L, int layer, const float* xn, int n, float* out, MoeScratch& s, int threads) {
  const MoeDesc& m = L.moe;
  const int d = hp.n_embd, ne = hp.n_expert, k = hp.n_expert_used, nf = hp.n_ff_exp;
  const RouterConfig cfg{ne, k, hp.gating, hp.expert_weights_norm, hp.expert_weights_scale};

  // 1. routing
  s.logits.resize(size_t(n) * ne);
  s.selected.resize(size_t(n) * k);
  s.weights.resize(size_t(n) * k);
  matmul(m.router, xn, n, s.logits.data(), threads);
  if (m.router_bias) add_rows(s.logits.data(), moe_f32(m.router_bias), n, ne);
  for (int t = 0; t < n; ++t) route_token(&s.logits[size_t(t) * ne], cfg, &s.selected[size_t(t) * k], &s.weights[size_t(t) * k]);
  if (const Observers* o = current_observers(); o && o->routing) o->routing(RoutingEvent{layer, n, ne, k, s.selected.data(), s.weights.data()});

  // 2. group the (token, slot) pairs by expert: counting sort keeps token order within an expert.
  std::vector<int> count(ne + 1, 0);
  for (int32_t e : s.selected) ++count[e + 1];
  std::partial_sum(count.begin(), count.end(), count.begin());
  s.order.resize(size_t(n) * k);
  {
    std::vector<int> next(count.begin(), count.end() - 1);
    for (int i = 0; i < n * k; ++i) s.order[next[s.selected[i]]++] = i;
  }

  // 3. one gathered matmul per used expert; each slot's weighted output lands in slots[token*k + slot].
  s.slots.resize(size_t(n) * k * d);
  for (int e = 0; e < ne; ++e) {
    const int begin = count[e], rows = count[e + 1] - begin;
    if (rows == 0) continue;
    s.gathered.resize(size_t(rows) * d);
    s.gate.resize(size_t(rows) * nf);
    s.up.resize(size_t(rows) * nf);
    s.down.resize(size_t(rows) * d);
    for (int r = 0; r < rows; ++r) {
      const int t = s.order[begin + r] / k;
      std::copy_n(xn + size_t(t) * d, d, &s.gathered[size_t(r) * d]);
    }
    matmul_expert(m.gate_exps, e, s.gathered.data(), rows, s.gate.data(), threads);
    matmul_expert(m.up_exps, e, s.gathered.data(), rows, s.up.data(), threads);
    if (m.gate_exps_b) add_rows(s.gate.data(), moe_f32(m.gate_exps_b) + size_t(e) * nf, rows, nf);
    if (m.up_exps_b) add_rows(s.up.data(), moe_f32(m.up_exps_b) + size_t(e) * nf, rows, nf);
    activate(L.ffn, hp, s.gate.data(), s.up.data(), size_t(rows) * nf);
    matmul_expert(m.down_exps, e, s.gate.data(), rows, s.down.data(), threads);
    if (m.down_exps_b) add_rows(s.down.data(), moe_f32(m.down_exps_b) + size_t(e) * d, rows, d);
    for (int r = 0; r < rows; ++r) {
      const int slot = s.order[begin + r];
      const float w = s.weights[slot];
      const float* src = &s.down[size_t(r) * d];
      float* dst = &s.slots[size_t(slot) * d];
      for (int i = 0; i < d; ++i) dst[i] = src[i] * w;
    }
  }

  // 4. sum the k slots in router order (llama.cpp adds the weighted expert views one after another).
  for (int t = 0; t < n; ++t) {
    float* o = out + size_t(t) * d;
    std::copy_n(&s.slots[size_t(t) * k * d], d, o);
    for (int j = 1; j < k; ++j) {
      const float* src = &s.slots[(size_t(t) * k + j) * d];
      for (int i = 0; i < d; ++i) o[i] += src[i];
    }
  }
  if (m.gate_shexp) shared_expert(hp, m, xn, n, out, s, threads);
}

}  // namespace lp::engine
