// KV-cache types in the whole forward pass, for every family the engine runs (dense qwen3, qwen3moe, gpt-oss with
// sliding window + sinks, gemma3 local/global): each K/V type (and a mixed pair) against an f32 cache over the same
// prompt (KL divergence of the next-token distributions), and the same type's prefill (one batch, all logits)
// against token-by-token decode of the same prompt in a two-sequence pool next to another sequence.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/context.h"
#include "engine/model.h"
#include "peer_skip.h"
#include "tiny_fixture.h"

namespace lp::engine {
namespace {

const char* const kKvFamilies[] = {"tiny-qwen3", "tiny-qwen3moe", "tiny-gptoss", "tiny-gemma3"};

std::vector<double> log_softmax(const float* l, int n) {
  double mx = -INFINITY, sum = 0;
  for (int i = 0; i < n; ++i) mx = std::max(mx, double(l[i]));
  for (int i = 0; i < n; ++i) sum += std::exp(l[i] - mx);
  std::vector<double> out(n);
  for (int i = 0; i < n; ++i) out[i] = l[i] - mx - std::log(sum);
  return out;
}

double kld(const float* ref, const float* got, int n) {  // KL(ref || got)
  const auto p = log_softmax(ref, n), q = log_softmax(got, n);
  double k = 0;
  for (int i = 0; i < n; ++i) k += std::exp(p[i]) * (p[i] - q[i]);
  return k;
}

struct Pair {
  CacheType k, v;
  double max_mean_kld;  // see below
  bool pooled;          // also run the pooled token-by-token decode (the slow part: one forward pass per token)
};
// Mean KLD vs the f32 cache over the 40 positions, measured 2026-12-07 on all four families (the test prints them):
// q8_0 1.1e-5..3.9e-5, q4_0 2.4e-3..1.05e-2 (gpt-oss), bf16 K with q4_0 V 1.7e-3..2.2e-3 (f16 and bf16 alone were
// 1e-8..4e-6 over 64 positions). The bounds are 5-13x those: a cache that stores or reads wrong rows gives KLDs of
// O(1), and a type that is not used at all gives identical logits (checked separately). f16: batch_test, forward_test.
const Pair kPairs[] = {{CacheType::Q8_0, CacheType::Q8_0, 5e-4, false},
                       {CacheType::Q4_0, CacheType::Q4_0, 0.05, true},
                       {CacheType::BF16, CacheType::Q4_0, 0.05, false}};

class KvTypes : public ::testing::TestWithParam<const char*> {};

TEST_P(KvTypes, EveryTypeCloseToF32AndPrefillEqualsPooledDecode) {
  const std::string dir = testing::fixture_dir(GetParam());
  if (dir.empty()) LP_SKIP_OR_FAIL(std::string("shared fixture ") + GetParam() + " missing");
  auto m = Model::load(dir);
  const int vocab = m->hp().n_vocab, n = 40;  // longer than the fixtures' sliding windows (32)
  std::vector<int32_t> prompt(n), other(n);
  for (int i = 0; i < n; ++i) {
    prompt[i] = static_cast<int32_t>((i * 104729 + 13) % (vocab - 10) + 5);
    other[i] = static_cast<int32_t>((i * 7919 + 101) % (vocab - 10) + 5);
  }
  ContextOptions o;
  o.n_ctx = 48;
  o.n_batch = 32;  // the prefill runs as two forward calls
  o.threads = 1;
  o.set_cache_type(CacheType::F32);
  Context ref(*m, o);
  ref.eval(prompt, true);
  for (const Pair& p : kPairs) {
    const std::string name = std::string(cache_type_name(p.k)) + "/" + cache_type_name(p.v);
    ContextOptions oq = o;
    oq.cache_type_k = p.k;
    oq.cache_type_v = p.v;
    Context c(*m, oq);
    EXPECT_EQ(c.cache().k_type(), p.k);
    c.eval(prompt, true);
    double sum = 0, worst_logit = 0;
    for (int i = 0; i < n; ++i) {
      sum += kld(ref.logits(i), c.logits(i), vocab);
      for (int v = 0; v < vocab; ++v) worst_logit = std::max(worst_logit, double(std::fabs(ref.logits(i)[v] - c.logits(i)[v])));
    }
    const double mean = sum / n;
    std::printf("%s %s: mean KLD vs f32 cache %.3g, max |logit diff| %.3g\n", GetParam(), name.c_str(), mean, worst_logit);
    EXPECT_LT(mean, p.max_mean_kld) << GetParam() << " " << name;
    EXPECT_GT(worst_logit, 0.0) << GetParam() << " " << name << ": the type is really used";
    if (!p.pooled) continue;
    // Token by token in a pool of two sequences, sequence 1 decoding another prompt in the same passes: the cache
    // holds the same encoded rows as after the prefill, so only float summation order differs (batch_test.cpp).
    ContextOptions op = oq;
    op.n_seq = 2;
    op.n_ctx = 2 * o.n_ctx;
    Context pool(*m, op);
    double worst = 0;
    for (int i = 0; i < n; ++i) {
      const BatchRow rows[2] = {{1, i, other[i], false}, {0, i, prompt[i], true}};
      pool.decode(rows);
      for (int v = 0; v < vocab; ++v) worst = std::max(worst, double(std::fabs(pool.batch_logits(0)[v] - c.logits(i)[v])));
    }
    EXPECT_LE(worst, 1e-3) << GetParam() << " " << name << ": pooled decode vs prefill";
  }
}

INSTANTIATE_TEST_SUITE_P(Families, KvTypes, ::testing::ValuesIn(kKvFamilies),
                         [](const auto& info) { return std::string(info.param).substr(5); });

}  // namespace
}  // namespace lp::engine
