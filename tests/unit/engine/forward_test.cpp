// Forward pass on the trained tiny-qwen3 fixture: perplexity with llama-perplexity's protocol must
// reproduce reference.json (computed independently in float32), and batched prefill must agree with
// token-by-token decode.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <vector>

#include "core/error.h"
#include "engine/context.h"
#include "engine/model.h"
#include "tiny_fixture.h"
#include "peer_skip.h"

namespace lp::engine {
namespace {

using engine::testing::heldout_tokens;

double log_softmax_at(const float* logits, int n, int id) {
  float mx = logits[0];
  for (int i = 1; i < n; ++i) mx = std::max(mx, logits[i]);
  double sum = 0;
  for (int i = 0; i < n; ++i) sum += std::exp(static_cast<double>(logits[i]) - mx);
  return static_cast<double>(logits[id]) - mx - std::log(sum);
}

// llama-perplexity: chunks of n_ctx tokens, all logits, score the second half.
double perplexity(const Model& m, const std::vector<int32_t>& toks, int n_ctx, int chunks, int* scored) {
  ContextOptions o;
  o.n_ctx = n_ctx;
  o.n_batch = n_ctx;
  Context ctx(m, o);
  double nll = 0;
  *scored = 0;
  for (int c = 0; c < chunks; ++c) {
    ctx.reset();
    std::span<const int32_t> chunk(toks.data() + size_t(c) * n_ctx, n_ctx);
    ctx.eval(chunk, true);
    for (int i = n_ctx / 2; i < n_ctx - 1; ++i) {
      nll -= log_softmax_at(ctx.logits(i), ctx.n_vocab(), chunk[i + 1]);
      ++*scored;
    }
  }
  return std::exp(nll / *scored);
}

TEST(Forward, TinyQwen3F32PerplexityMatchesReference) {
  const std::string path = testing::tiny_qwen3_gguf(GgmlType::F32);
  if (path.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  auto m = Model::load(path);
  EXPECT_EQ(m->hp().arch, "qwen3");
  EXPECT_EQ(m->hp().n_layer, 4);
  EXPECT_EQ(m->output().t, m->token_embd().t);  // tied
  const auto toks = heldout_tokens();
  ASSERT_GE(toks.size(), 16384u);
  int scored = 0;
  const double ppl = perplexity(*m, toks, 256, 64, &scored);
  EXPECT_EQ(scored, 8128);
  // reference.json: 92.68531602529711 (float32 PyTorch); llama.cpp on F32 GGUF: 92.6856.
  EXPECT_NEAR(ppl, 92.68531602529711, 92.685 * 2e-4) << ppl;
}

TEST(Forward, BatchedPrefillEqualsTokenByTokenDecode) {
  // F32 weights: with quantized activations a 1-ulp difference between the batched and single-token
  // kernels can flip an int8 rounding downstream (~1e-2 in logits), which would hide real bugs' scale.
  const std::string path = testing::tiny_qwen3_gguf(GgmlType::F32);
  if (path.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  auto m = Model::load(path);
  const auto all = heldout_tokens();
  std::vector<int32_t> toks(all.begin(), all.begin() + 40);
  ContextOptions o;
  o.n_ctx = 64;
  o.n_batch = 16;  // 40 tokens -> batches of 16, 16, 8
  Context batched(*m, o);
  batched.eval(toks, true);
  Context single(*m, o);
  for (size_t i = 0; i < toks.size(); ++i) {
    single.eval(std::span<const int32_t>(&toks[i], 1), false);
    const float* a = batched.logits(static_cast<int>(i));
    const float* b = single.logits(0);
    double max_diff = 0;
    for (int v = 0; v < m->hp().n_vocab; ++v) max_diff = std::max(max_diff, double(std::fabs(a[v] - b[v])));
    ASSERT_LT(max_diff, 1e-4) << "position " << i;
  }
}

TEST(Forward, ContextOverflowIsAnError) {
  const std::string path = testing::tiny_qwen3_gguf(GgmlType::Q8_0);
  if (path.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  auto m = Model::load(path);
  ContextOptions o;
  o.n_ctx = 8;
  Context ctx(*m, o);
  std::vector<int32_t> toks(9, 1);
  EXPECT_THROW(ctx.eval(toks), lp::Error);
  std::vector<int32_t> bad = {5000};
  EXPECT_THROW(ctx.eval(bad), lp::Error);
}

}  // namespace
}  // namespace lp::engine
