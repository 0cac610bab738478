// MoE routing math and the grouped expert FFN on a tiny random model built in memory: the engine's
// prefill (tokens grouped per expert) must equal a naive per-token mixture computed here, the router
// must follow llama.cpp's gating functions, and the observers must see every routed row once.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <vector>

#include "core/error.h"
#include "engine/model.h"
#include "engine/moe.h"
#include "engine/observers.h"

namespace lp::engine {
namespace {

TEST(MoeRouting, SoftmaxTopKRenormalised) {
  const float logits[4] = {0.5f, 2.0f, -1.0f, 1.0f};
  int32_t sel[2];
  float w[2];
  route_token(logits, RouterConfig{4, 2, MoeGating::Softmax, true, 0.0f}, sel, w);
  EXPECT_EQ(sel[0], 1);
  EXPECT_EQ(sel[1], 3);
  // renormalised top-2 of a softmax = softmax over the two chosen logits
  const double e = std::exp(1.0);
  EXPECT_NEAR(w[0], e / (e + 1.0), 1e-6);
  EXPECT_NEAR(w[1], 1.0 / (e + 1.0), 1e-6);

  route_token(logits, RouterConfig{4, 2, MoeGating::Softmax, false, 0.0f}, sel, w);
  double z = 0;
  for (float l : logits) z += std::exp(l);
  EXPECT_NEAR(w[0], std::exp(2.0) / z, 1e-6);  // unnormalised: the full-softmax probability
  EXPECT_NEAR(w[1], std::exp(1.0) / z, 1e-6);

  route_token(logits, RouterConfig{4, 2, MoeGating::Softmax, true, 2.5f}, sel, w);
  EXPECT_NEAR(w[0] + w[1], 2.5, 1e-5);  // expert_weights_scale after normalisation
}

TEST(MoeRouting, SoftmaxWeightGating) {
  // gpt-oss: top-k on raw logits (biased), softmax over the k chosen only.
  const float logits[5] = {-3.0f, 4.0f, 4.5f, 0.0f, 4.0f};
  int32_t sel[3];
  float w[3];
  route_token(logits, RouterConfig{5, 3, MoeGating::SoftmaxWeight, false, 0.0f}, sel, w);
  EXPECT_EQ(sel[0], 2);
  EXPECT_EQ(sel[1], 1);  // tie between 1 and 4 goes to the lower id
  EXPECT_EQ(sel[2], 4);
  const double z = std::exp(4.5) + 2 * std::exp(4.0);
  EXPECT_NEAR(w[0], std::exp(4.5) / z, 1e-6);
  EXPECT_NEAR(w[1], std::exp(4.0) / z, 1e-6);
  EXPECT_NEAR(w[2], std::exp(4.0) / z, 1e-6);
}

// A tiny layer of F32 tensors: d=32, 6 experts of width 16, top-2, optional gpt-oss biases/clamp.
struct TinyMoe {
  static constexpr int d = 32, nf = 16, ne = 6, k = 2;
  std::vector<std::vector<float>> store;
  std::vector<GgufTensor> tensors;
  HParams hp;
  LayerDesc L;

  void add(const std::string& name, std::vector<int64_t> shape, std::mt19937& rng, float scale) {
    size_t n = 1;
    for (int64_t s : shape) n *= s;
    std::normal_distribution<float> dist(0.0f, scale);
    store.emplace_back(n);
    for (float& v : store.back()) v = dist(rng);
    GgufTensor t;
    t.name = name;
    t.type = GgmlType::F32;
    for (size_t i = 0; i < shape.size(); ++i) t.ne[i] = shape[i];
    t.n_dims = static_cast<int>(shape.size());
    t.data = reinterpret_cast<const uint8_t*>(store.back().data());
    t.nbytes = n * 4;
    tensors.push_back(t);
  }

  TinyMoe(bool gptoss, uint32_t seed) {
    std::mt19937 rng(seed);
    store.reserve(16);
    tensors.reserve(16);
    add("blk.0.ffn_gate_inp.weight", {d, ne}, rng, 0.5f);
    add("blk.0.ffn_gate_exps.weight", {d, nf, ne}, rng, 0.3f);
    add("blk.0.ffn_up_exps.weight", {d, nf, ne}, rng, 0.3f);
    add("blk.0.ffn_down_exps.weight", {nf, d, ne}, rng, 0.3f);
    if (gptoss) {
      add("blk.0.ffn_gate_inp.bias", {ne}, rng, 0.5f);
      add("blk.0.ffn_gate_exps.bias", {nf, ne}, rng, 0.5f);
      add("blk.0.ffn_up_exps.bias", {nf, ne}, rng, 0.5f);
      add("blk.0.ffn_down_exps.bias", {d, ne}, rng, 0.5f);
    }
    Weight* slots[] = {&L.moe.router, &L.moe.gate_exps, &L.moe.up_exps, &L.moe.down_exps,
                       &L.moe.router_bias, &L.moe.gate_exps_b, &L.moe.up_exps_b, &L.moe.down_exps_b};
    for (size_t i = 0; i < tensors.size(); ++i) *slots[i] = Weight{&tensors[i]};
    hp.n_embd = d;
    hp.n_expert = ne;
    hp.n_expert_used = k;
    hp.n_ff_exp = nf;
    hp.gating = gptoss ? MoeGating::SoftmaxWeight : MoeGating::Softmax;
    hp.expert_weights_norm = !gptoss;
    L.ffn = gptoss ? FfnKind::SwiGLUOai : FfnKind::SwiGLU;
  }

  // Naive reference: route, then each chosen expert's FFN in double precision from the raw arrays.
  std::vector<double> reference(const float* x) const {
    const float* router = reinterpret_cast<const float*>(L.moe.router.t->data);
    std::vector<float> logits(ne);
    for (int e = 0; e < ne; ++e) {
      double s = 0;
      for (int i = 0; i < d; ++i) s += double(router[e * d + i]) * x[i];
      logits[e] = static_cast<float>(s);
      if (L.moe.router_bias) logits[e] += reinterpret_cast<const float*>(L.moe.router_bias.t->data)[e];
    }
    int32_t sel[k];
    float w[k];
    route_token(logits.data(), RouterConfig{ne, k, hp.gating, hp.expert_weights_norm, 0.0f}, sel, w);
    auto f = [](const Weight& W) { return reinterpret_cast<const float*>(W.t->data); };
    std::vector<double> out(d, 0.0);
    for (int j = 0; j < k; ++j) {
      const int e = sel[j];
      std::vector<double> h(nf);
      for (int r = 0; r < nf; ++r) {
        double g = 0, u = 0;
        for (int i = 0; i < d; ++i) {
          g += double(f(L.moe.gate_exps)[(size_t(e) * nf + r) * d + i]) * x[i];
          u += double(f(L.moe.up_exps)[(size_t(e) * nf + r) * d + i]) * x[i];
        }
        if (L.moe.gate_exps_b) g += f(L.moe.gate_exps_b)[e * nf + r], u += f(L.moe.up_exps_b)[e * nf + r];
        if (L.ffn == FfnKind::SwiGLUOai) {
          const double gc = std::min(g, 7.0), uc = std::clamp(u, -7.0, 7.0);
          h[r] = gc / (1 + std::exp(-1.702 * gc)) * (uc + 1);
        } else {
          h[r] = g / (1 + std::exp(-g)) * u;
        }
      }
      for (int o = 0; o < d; ++o) {
        double s = 0;
        for (int r = 0; r < nf; ++r) s += double(f(L.moe.down_exps)[(size_t(e) * d + o) * nf + r]) * h[r];
        if (L.moe.down_exps_b) s += f(L.moe.down_exps_b)[e * d + o];
        out[o] += w[j] * s;
      }
    }
    return out;
  }
};

void expect_matches_reference(bool gptoss) {
  TinyMoe m(gptoss, gptoss ? 7 : 3);
  constexpr int n = 9;
  std::mt19937 rng(11);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n * TinyMoe::d), out(n * TinyMoe::d);
  for (float& v : x) v = dist(rng);
  MoeScratch s;
  moe_ffn(m.hp, m.L, 0, x.data(), n, out.data(), s, 1);  // prefill: grouped per expert
  std::vector<float> one(TinyMoe::d);
  for (int t = 0; t < n; ++t) {
    const auto ref = m.reference(&x[t * TinyMoe::d]);
    moe_ffn(m.hp, m.L, 0, &x[t * TinyMoe::d], 1, one.data(), s, 1);  // decode: one token
    for (int i = 0; i < TinyMoe::d; ++i) {
      EXPECT_NEAR(out[t * TinyMoe::d + i], ref[i], 1e-4 * (1 + std::abs(ref[i]))) << "token " << t << " dim " << i;
      EXPECT_EQ(one[i], out[t * TinyMoe::d + i]) << "prefill and decode differ at token " << t;
    }
  }
}

TEST(MoeFfn, GroupedPrefillMatchesNaiveMixture) { expect_matches_reference(false); }
TEST(MoeFfn, GptOssBiasesAndClampedSwiGLU) { expect_matches_reference(true); }

TEST(MoeFfn, ObserversSeeRoutingAndPerExpertRows) {
  TinyMoe m(false, 5);
  constexpr int n = 12;
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n * TinyMoe::d), out(n * TinyMoe::d);
  for (float& v : x) v = dist(rng);
  std::vector<int32_t> routed;
  std::map<std::pair<std::string, int>, int> rows;
  set_routing_observer([&](const RoutingEvent& ev) {
    EXPECT_EQ(ev.layer, 3);
    EXPECT_EQ(ev.n_tokens, n);
    EXPECT_EQ(ev.n_expert, TinyMoe::ne);
    EXPECT_EQ(ev.k, TinyMoe::k);
    for (int t = 0; t < n; ++t) EXPECT_NEAR(ev.weights[t * 2] + ev.weights[t * 2 + 1], 1.0f, 1e-6);
    routed.assign(ev.selected, ev.selected + n * ev.k);
  });
  set_activation_observer([&](const ActivationEvent& ev) {
    if (ev.weight.find("_exps") != std::string::npos) {
      EXPECT_EQ(ev.n_expert, TinyMoe::ne);
    }
    rows[{ev.weight, ev.expert}] += ev.n_tokens;
  });
  MoeScratch s;
  moe_ffn(m.hp, m.L, 3, x.data(), n, out.data(), s, 1);
  set_routing_observer({});
  set_activation_observer({});
  ASSERT_EQ(routed.size(), size_t(n * TinyMoe::k));
  EXPECT_EQ((rows[{"blk.0.ffn_gate_inp.weight", 0}]), n);
  for (int e = 0; e < TinyMoe::ne; ++e) {
    const int expected = static_cast<int>(std::count(routed.begin(), routed.end(), e));
    EXPECT_EQ((rows[{"blk.0.ffn_gate_exps.weight", e}]), expected) << "expert " << e;
    EXPECT_EQ((rows[{"blk.0.ffn_down_exps.weight", e}]), expected) << "expert " << e;
  }
}

}  // namespace
}  // namespace lp::engine
