// Public API (include/llama_pajamas/runtime.h) on the tiny-qwen3 fixture without a tokenizer: token-level
// generation, evaluate(), prefix reuse, stop reasons and the errors users see.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>

#include "core/error.h"
#include "llama_pajamas/runtime.h"
#include "tiny_fixture.h"
#include "peer_skip.h"

namespace lp {
namespace {

std::vector<int32_t> prompt_tokens() { return engine::testing::heldout_tokens(24); }

TEST(Runtime, GreedyGenerationIsDeterministicAndMatchesEvaluate) {
  const std::string path = engine::testing::tiny_qwen3_gguf(GgmlType::Q8_0);
  if (path.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  RuntimeOptions o;
  o.ctx = 128;
  o.threads = 1;
  Runtime rt = Runtime::open(path, o);
  EXPECT_EQ(rt.info().architecture, "qwen3");
  InferenceConfig cfg;
  cfg.max_tokens = 12;
  cfg.sampling.temperature = 0;
  cfg.ignore_eos = true;
  const auto p = prompt_tokens();
  const GenerationResult a = rt.generate_tokens(p, cfg);
  ASSERT_EQ(a.tokens.size(), 12u);
  EXPECT_EQ(a.stop_reason, "length");
  // The second call shares the whole prompt with the cache: only the last prompt token is re-run.
  const GenerationResult b = rt.generate_tokens(p, cfg);
  EXPECT_EQ(b.cached_prompt_tokens, static_cast<int>(p.size()) - 1);
  EXPECT_EQ(a.tokens, b.tokens);
  // Greedy token i is the argmax of evaluate()'s logits at the previous position.
  std::vector<int32_t> seq = p;
  seq.insert(seq.end(), a.tokens.begin(), a.tokens.end() - 1);
  const auto logits = rt.evaluate(seq);
  const int V = rt.info().n_vocab;
  for (size_t i = 0; i < a.tokens.size(); ++i) {
    const float* l = logits.data() + (p.size() - 1 + i) * V;
    EXPECT_EQ(std::max_element(l, l + V) - l, a.tokens[i]) << i;
  }
}

TEST(Runtime, ErrorsNameTheProblem) {
  EXPECT_THROW(Runtime::open("/nonexistent/model.gguf"), Error);
  const std::string path = engine::testing::tiny_qwen3_gguf(GgmlType::Q8_0);
  if (path.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  RuntimeOptions o;
  o.ctx = 16;
  Runtime rt = Runtime::open(path, o);
  std::vector<int32_t> long_prompt(20, 5);
  try {
    rt.generate_tokens(long_prompt, InferenceConfig{});
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("context"), std::string::npos) << e.what();
  }
  o.cache_type = "q4_1";
  EXPECT_THROW(Runtime::open(path, o), Error);
  o.cache_type = "f16";
  o.cache_type_v = "q5_0";
  EXPECT_THROW(Runtime::open(path, o), Error);
  o.cache_type_v = "q4_0";
  o.cache_type_k = "bf16";
  EXPECT_EQ(Runtime::open(path, o).info().cache_type, "bf16/q4_0");
}

TEST(Runtime, Q8CacheStaysCloseToF16Cache) {
  const std::string path = engine::testing::tiny_qwen3_gguf(GgmlType::F32);
  if (path.empty()) LP_SKIP_OR_FAIL("shared fixture tiny-qwen3 missing");
  RuntimeOptions o;
  o.ctx = 64;
  Runtime f16 = Runtime::open(path, o);
  o.cache_type = "q8_0";
  Runtime q8 = Runtime::open(path, o);
  const auto p = prompt_tokens();
  const auto a = f16.evaluate(p), b = q8.evaluate(p);
  double max_diff = 0;
  for (size_t i = 0; i < a.size(); ++i) max_diff = std::max(max_diff, double(std::fabs(a[i] - b[i])));
  EXPECT_GT(max_diff, 0.0);   // the q8_0 cache is really used
  EXPECT_LT(max_diff, 0.25);  // and only perturbs logits slightly
}

}  // namespace
}  // namespace lp
