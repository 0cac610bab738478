#include "eval/token_metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "eval/thresholds.h"

namespace lp::eval {
namespace {

TEST(TokenMetrics, IdenticalDistributionsHaveZeroKld) {
  std::vector<float> logits = {1.0f, 3.0f, -2.0f, 0.5f};
  std::vector<float> ref = logits;
  const int top = log_softmax_inplace(ref).top;
  EXPECT_EQ(top, 1);
  const TokenComparison t = compare_token(ref, top, logits, 2);
  EXPECT_NEAR(t.kld, 0.0, 1e-7);
  EXPECT_TRUE(t.same_top1);
  EXPECT_NEAR(t.dp_top, 0.0, 1e-7);
  EXPECT_NEAR(t.nll_quant, nll_from_logits(logits, 2), 1e-9);
}

TEST(TokenMetrics, KldMatchesClosedFormForTwoTokens) {
  // p = (0.8, 0.2), q = (0.5, 0.5): KL = 0.8 ln 1.6 + 0.2 ln 0.4
  std::vector<float> ref = {std::log(0.8f), std::log(0.2f)};
  const int top = log_softmax_inplace(ref).top;
  std::vector<float> quant = {7.0f, 7.0f};
  const TokenComparison t = compare_token(ref, top, quant, 1);
  EXPECT_NEAR(t.kld, 0.8 * std::log(1.6) + 0.2 * std::log(0.4), 1e-6);
  EXPECT_NEAR(t.nll_quant, std::log(2.0), 1e-6);
  EXPECT_NEAR(t.dp_top, 0.3, 1e-6);
  // argmax of equal logits is the first index, which is also the reference top
  EXPECT_TRUE(t.same_top1);
  const TokenComparison flipped = compare_token(ref, top, std::vector<float>{0.0f, 1.0f}, 0);
  EXPECT_FALSE(flipped.same_top1);
  EXPECT_GT(flipped.kld, t.kld);
}

TEST(TokenMetrics, UniformModelPerplexityIsVocabularySize) {
  PerplexityAccumulator acc;
  std::vector<float> flat(50, 0.25f);
  for (int i = 0; i < 10; ++i) acc.add(nll_from_logits(flat, i));
  EXPECT_NEAR(acc.perplexity(), 50.0, 1e-9);
  EXPECT_NEAR(acc.perplexity_error(), 0.0, 1e-5);  // sum-of-squares variance: cancellation leaves ~1e-6
}

TEST(TokenMetrics, PercentilesInterpolateLikeNumpy) {
  const std::vector<float> v = {1, 2, 3, 4, 10};
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 0.5), 3.0);
  EXPECT_NEAR(percentile_sorted(v, 0.99), 9.76, 1e-5);  // numpy.percentile([1,2,3,4,10], 99)
  EXPECT_DOUBLE_EQ(percentile_sorted(v, 1.0), 10.0);
  EXPECT_DOUBLE_EQ(median_sorted(v), 3.0);
  const std::vector<float> even = {1, 2, 3, 5};
  EXPECT_DOUBLE_EQ(median_sorted(even), 2.5);
}

TEST(TokenMetrics, AccumulatorSummarisesAllStatistics) {
  ComparisonAccumulator acc;
  for (int i = 1; i <= 100; ++i) acc.add({std::log(4.0), 0.001 * i, i % 4 != 0, 0.01});
  const ComparisonSummary s = acc.summary();
  EXPECT_EQ(s.tokens, 100u);
  EXPECT_NEAR(s.perplexity, 4.0, 1e-9);
  EXPECT_NEAR(s.kld_mean, 0.0505, 1e-9);
  EXPECT_NEAR(s.kld_median, 0.0505, 1e-6);
  EXPECT_NEAR(s.kld_p99, 0.09901, 1e-6);
  EXPECT_NEAR(s.kld_max, 0.1, 1e-6);
  EXPECT_NEAR(s.same_top1, 0.75, 1e-12);
  EXPECT_NEAR(s.dp_top_mean, 0.01, 1e-12);
}

TEST(Thresholds, NominalBitsFromPrecisionNames) {
  EXPECT_EQ(nominal_bits("Q4_K_M"), 4);
  EXPECT_EQ(nominal_bits("q8_0"), 8);
  EXPECT_EQ(nominal_bits("IQ4_XS"), 4);
  EXPECT_EQ(nominal_bits("Q2_K"), 2);
  EXPECT_EQ(nominal_bits("MXFP4_MOE"), 4);
  EXPECT_EQ(nominal_bits("BF16"), 16);
  EXPECT_EQ(nominal_bits("F32"), 32);
  EXPECT_EQ(nominal_bits("6bit-mixed"), 6);
  EXPECT_EQ(nominal_bits("what"), std::nullopt);
}

// Paired differences: mean(d) is ln(PPL_q/PPL_ref) and its error sd(d)/sqrt(n), whatever the NLLs' own spread.
TEST(TokenMetrics, PairedNllDifferenceHasItsOwnStandardError) {
  ComparisonAccumulator acc;
  const int n = 1000;
  for (int i = 0; i < n; ++i) {
    const double ref = 1.0 + 3.0 * (i % 7);  // widely spread NLLs: large unpaired error
    const double d = i % 2 ? 0.03 : 0.01;
    acc.add({ref + d, 0.0, true, 0.0}, ref);
  }
  const ComparisonSummary s = acc.summary();
  ASSERT_TRUE(s.paired);
  EXPECT_NEAR(s.ln_ppl_ratio, 0.02, 1e-12);
  EXPECT_NEAR(s.ln_ppl_ratio_error, 0.01 * std::sqrt(static_cast<double>(n) / (n - 1)) / std::sqrt(static_cast<double>(n)), 1e-12);
  EXPECT_GT(s.perplexity_error / s.perplexity, 50 * s.ln_ppl_ratio_error);
  // Without the reference NLLs there is no paired error.
  ComparisonAccumulator unpaired;
  unpaired.add({1.0, 0.0, true, 0.0});
  unpaired.add({2.0, 0.0, true, 0.0});
  EXPECT_FALSE(unpaired.summary().paired);
}

// Gates per precision class (docs/VALIDATION.md "Gates": ~4x the largest mean KLD correct quantizations
// measure on the fixtures at that width).
TEST(Thresholds, PlanTargetsAndOverrides) {
  EXPECT_DOUBLE_EQ(default_gate("Q4_K_M").max_ppl_increase, 0.01);
  EXPECT_DOUBLE_EQ(default_gate("Q6_K").max_ppl_increase, 0.005);
  EXPECT_DOUBLE_EQ(default_gate("Q8_0").max_ppl_increase, 0.0025);
  EXPECT_LT(default_gate("Q8_0").max_kld_mean, default_gate("Q6_K").max_kld_mean);
  EXPECT_LT(default_gate("Q6_K").max_kld_mean, default_gate("Q4_K_M").max_kld_mean);
  EXPECT_LE(default_gate("Q4_K_M").max_kld_mean, default_gate("Q3_K_M").max_kld_mean);
  EXPECT_LT(default_gate("Q3_K_M").max_kld_mean, default_gate("Q2_K").max_kld_mean);
  // Q4_K_M measures 0.0006-0.0008 on tiny-qwen3: the gate is within about an order of magnitude of it.
  EXPECT_LT(default_gate("Q4_K_M").max_kld_mean, 0.02);
  EXPECT_DOUBLE_EQ(default_gate("4bit-mixed").max_kld_mean, default_gate("Q4_K_M").max_kld_mean);
  GateOverrides o;
  o.max_ppl_increase = 0.01;
  const Gate g = resolve_gate("Q4_K_M", o);
  EXPECT_DOUBLE_EQ(g.max_ppl_increase, 0.01);
  EXPECT_DOUBLE_EQ(g.max_kld_mean, default_gate("Q4_K_M").max_kld_mean);
  // MoE gates: issue #7's defaults for every precision, overridable.
  EXPECT_DOUBLE_EQ(default_gate("Q2_K").min_expert_correlation, 0.95);
  EXPECT_DOUBLE_EQ(default_gate("Q8_0").min_router_agreement, 0.95);
  o.min_router_agreement = 0.8;
  EXPECT_DOUBLE_EQ(resolve_gate("Q2_K", o).min_router_agreement, 0.8);
  EXPECT_DOUBLE_EQ(resolve_gate("Q2_K", o).min_expert_correlation, 0.95);
}


}  // namespace
}  // namespace lp::eval
