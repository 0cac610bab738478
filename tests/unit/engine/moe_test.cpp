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
#include "engine/context.h"
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
  static constexpr int d = 32, nf = 16, ne = 6, k = 2, nsh = 24;
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

  TinyMoe(bool gptoss, uint32_t seed, bool shared = false) {
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
    std::vector<Weight*> slots = {&L.moe.router, &L.moe.gate_exps, &L.moe.up_exps, &L.moe.down_exps};
    if (gptoss) slots.insert(slots.end(), {&L.moe.router_bias, &L.moe.gate_exps_b, &L.moe.up_exps_b, &L.moe.down_exps_b});
    if (shared) {
      add("blk.0.ffn_gate_shexp.weight", {d, nsh}, rng, 0.3f);
      add("blk.0.ffn_up_shexp.weight", {d, nsh}, rng, 0.3f);
      add("blk.0.ffn_down_shexp.weight", {nsh, d}, rng, 0.3f);
      add("blk.0.ffn_gate_inp_shexp.weight", {d, 1}, rng, 0.5f);
      slots.insert(slots.end(), {&L.moe.gate_shexp, &L.moe.up_shexp, &L.moe.down_shexp, &L.moe.router_shexp});
      hp.n_ff_shexp = nsh;
    }
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
    if (L.moe.gate_shexp) {  // qwen2moe-style shared expert: sigmoid(gate_inp_shexp . x) * SwiGLU FFN
      double g = 0;
      for (int i = 0; i < d; ++i) g += double(f(L.moe.router_shexp)[i]) * x[i];
      const double gate = 1 / (1 + std::exp(-g));
      std::vector<double> h(nsh);
      for (int r = 0; r < nsh; ++r) {
        double a = 0, u = 0;
        for (int i = 0; i < d; ++i) a += double(f(L.moe.gate_shexp)[r * d + i]) * x[i], u += double(f(L.moe.up_shexp)[r * d + i]) * x[i];
        h[r] = a / (1 + std::exp(-a)) * u;
      }
      for (int o = 0; o < d; ++o) {
        double s = 0;
        for (int r = 0; r < nsh; ++r) s += double(f(L.moe.down_shexp)[o * nsh + r]) * h[r];
        out[o] += gate * s;
      }
    }
    return out;
  }
};

// Relative bound between grouped prefill and one-token decode: float32 sums of at most a few dozen
// products per dot, two matmul stages, in different orders: a few ulps of the magnitudes involved.
constexpr double kPrefillDecodeTolerance = 1e-5;

void expect_matches_reference(bool gptoss, bool shared = false) {
  TinyMoe m(gptoss, gptoss ? 7 : 3, shared);
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
      // The engine promises equality up to float summation order, not bit-identity (docs/ENGINE.md,
      // "Prefill and decode"): the multi-token tiles and the one-token kernels accumulate in different
      // orders on some targets (AVX2's 4-chain dot vs the tiles' one chain per token).
      EXPECT_NEAR(one[i], out[t * TinyMoe::d + i], kPrefillDecodeTolerance * (1 + std::abs(out[t * TinyMoe::d + i])))
          << "prefill and decode differ at token " << t << " dim " << i;
    }
  }
}

TEST(MoeFfn, GroupedPrefillMatchesNaiveMixture) { expect_matches_reference(false); }
TEST(MoeFfn, GptOssBiasesAndClampedSwiGLU) { expect_matches_reference(true); }
TEST(MoeFfn, SigmoidGatedSharedExpert) { expect_matches_reference(false, true); }

TEST(MoeFfn, ObserversSeeRoutingAndPerExpertRows) {
  TinyMoe m(false, 5);
  constexpr int n = 12;
  std::mt19937 rng(2);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(n * TinyMoe::d), out(n * TinyMoe::d);
  for (float& v : x) v = dist(rng);
  std::vector<int32_t> routed;
  std::map<std::pair<std::string, int>, int> rows;
  Observers obs;
  obs.routing = [&](const RoutingEvent& ev) {
    EXPECT_EQ(ev.layer, 3);
    EXPECT_EQ(ev.n_tokens, n);
    EXPECT_EQ(ev.n_expert, TinyMoe::ne);
    EXPECT_EQ(ev.k, TinyMoe::k);
    for (int t = 0; t < n; ++t) EXPECT_NEAR(ev.weights[t * 2] + ev.weights[t * 2 + 1], 1.0f, 1e-6);
    routed.assign(ev.selected, ev.selected + n * ev.k);
  };
  obs.activation = [&](const ActivationEvent& ev) {
    if (ev.weight.find("_exps") != std::string::npos) {
      EXPECT_EQ(ev.n_expert, TinyMoe::ne);
    }
    rows[{ev.weight, ev.expert}] += ev.n_tokens;
  };
  MoeScratch s;
  {
    const ObserverScope scope(&obs);
    moe_ffn(m.hp, m.L, 3, x.data(), n, out.data(), s, 1);
  }
  EXPECT_EQ(current_observers(), nullptr);
  ASSERT_EQ(routed.size(), size_t(n * TinyMoe::k));
  EXPECT_EQ((rows[{"blk.0.ffn_gate_inp.weight", 0}]), n);
  for (int e = 0; e < TinyMoe::ne; ++e) {
    const int expected = static_cast<int>(std::count(routed.begin(), routed.end(), e));
    EXPECT_EQ((rows[{"blk.0.ffn_gate_exps.weight", e}]), expected) << "expert " << e;
    EXPECT_EQ((rows[{"blk.0.ffn_down_exps.weight", e}]), expected) << "expert " << e;
  }
}


// A whole qwen3moe model in memory (2 layers, 4 experts, top-2), bound through Model::from_view like a GGUF.
struct TinyMoeModel {
  static constexpr int d = 64, heads = 2, kv_heads = 1, hd = 32, vocab = 50, layers = 2, ne = 4, k = 2, nf = 32;
  std::vector<std::vector<float>> store;
  std::vector<GgufTensor> tensors;
  std::map<std::string, GgufValue> kv;
  std::mt19937 rng{42};

  void add(const std::string& name, std::vector<int64_t> shape, float scale, float mean = 0.0f) {
    size_t n = 1;
    for (int64_t s : shape) n *= s;
    std::normal_distribution<float> dist(mean, scale);
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

  TinyMoeModel() {
    store.reserve(64);
    const std::string a = "qwen3moe.";
    kv["general.architecture"] = std::string("qwen3moe");
    kv[a + "embedding_length"] = int64_t{d};
    kv[a + "block_count"] = int64_t{layers};
    kv[a + "context_length"] = int64_t{64};
    kv[a + "attention.head_count"] = int64_t{heads};
    kv[a + "attention.head_count_kv"] = int64_t{kv_heads};
    kv[a + "attention.key_length"] = int64_t{hd};
    kv[a + "attention.value_length"] = int64_t{hd};
    kv[a + "expert_count"] = int64_t{ne};
    kv[a + "expert_used_count"] = int64_t{k};
    kv[a + "expert_feed_forward_length"] = int64_t{nf};
    add("token_embd.weight", {d, vocab}, 1.0f);
    add("output_norm.weight", {d}, 0.1f, 1.0f);
    for (int il = 0; il < layers; ++il) {
      const std::string p = "blk." + std::to_string(il) + ".";
      add(p + "attn_norm.weight", {d}, 0.1f, 1.0f);
      add(p + "attn_q.weight", {d, heads * hd}, 0.15f);
      add(p + "attn_k.weight", {d, kv_heads * hd}, 0.15f);
      add(p + "attn_v.weight", {d, kv_heads * hd}, 0.15f);
      add(p + "attn_output.weight", {heads * hd, d}, 0.15f);
      add(p + "attn_q_norm.weight", {hd}, 0.1f, 1.0f);
      add(p + "attn_k_norm.weight", {hd}, 0.1f, 1.0f);
      add(p + "ffn_norm.weight", {d}, 0.1f, 1.0f);
      add(p + "ffn_gate_inp.weight", {d, ne}, 0.5f);
      add(p + "ffn_gate_exps.weight", {d, nf, ne}, 0.15f);
      add(p + "ffn_up_exps.weight", {d, nf, ne}, 0.15f);
      add(p + "ffn_down_exps.weight", {nf, d, ne}, 0.15f);
    }
  }

  std::unique_ptr<Model> load() const {
    return Model::from_view(std::make_unique<GgufView>("tiny-moe.gguf", 0, kv, tensors, nullptr));
  }
  GgufTensor& tensor(const std::string& name) {
    for (auto& t : tensors)
      if (t.name == name) return t;
    throw std::runtime_error("no tensor " + name);
  }
};

std::string load_error(const TinyMoeModel& m) {
  try {
    m.load();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(MoeModel, BindsHyperParametersAndRunsPrefillLikeDecode) {
  TinyMoeModel tm;
  auto m = tm.load();
  EXPECT_TRUE(m->hp().is_moe());
  EXPECT_EQ(m->hp().n_expert_used, 2);
  EXPECT_EQ(m->hp().n_ff_exp, 32);
  EXPECT_TRUE(m->hp().expert_weights_norm);  // llama.cpp's norm_w for qwen3moe
  EXPECT_TRUE(m->layers()[1].moe);
  const std::vector<int32_t> toks = {3, 17, 42, 8, 8, 29, 0, 49, 11, 5};
  ContextOptions o;
  o.n_ctx = 32;
  o.threads = 1;
  o.set_cache_type(CacheType::F32);
  Context prefill(*m, o), decode(*m, o);
  prefill.eval(toks, true);
  float worst = 0, scale = 0;
  for (size_t i = 0; i < toks.size(); ++i) {
    decode.eval(std::span<const int32_t>(&toks[i], 1));
    for (int v = 0; v < TinyMoeModel::vocab; ++v) {
      worst = std::max(worst, std::abs(prefill.logits(static_cast<int>(i))[v] - decode.logits()[v]));
      scale = std::max(scale, std::abs(decode.logits()[v]));
    }
  }
  EXPECT_GT(scale, 0.1f);
  EXPECT_LT(worst, 1e-4f * scale) << "batched prefill and token-by-token decode disagree";
}

TEST(MoeModel, LoadErrorsNameTheTensorOrKey) {
  {
    TinyMoeModel tm;
    tm.tensor("blk.1.ffn_down_exps.weight").name = "blk.1.ffn_down_exps.renamed";
    EXPECT_NE(load_error(tm).find("qwen3moe model is missing tensor blk.1.ffn_down_exps.weight"), std::string::npos) << load_error(tm);
  }
  {
    TinyMoeModel tm;
    tm.tensor("blk.0.ffn_up_exps.weight").ne[2] = 2;  // a stack of 2 experts where the metadata says 4
    EXPECT_NE(load_error(tm).find("expert tensor blk.0.ffn_up_exps.weight has shape"), std::string::npos) << load_error(tm);
  }
  {
    TinyMoeModel tm;
    tm.kv["qwen3moe.expert_used_count"] = int64_t{5};
    EXPECT_NE(load_error(tm).find("qwen3moe.expert_used_count 5"), std::string::npos) << load_error(tm);
  }
  {
    TinyMoeModel tm;
    tm.kv["general.architecture"] = std::string("deepseek2");
    EXPECT_NE(load_error(tm).find("architecture 'deepseek2' is not supported"), std::string::npos) << load_error(tm);
  }
}

}  // namespace
}  // namespace lp::engine
