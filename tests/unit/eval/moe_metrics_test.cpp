// MoE metrics on synthetic routing events: identical routing, a layer whose router flipped, experts never
// chosen, events split over batches, and the refusals.
#include "eval/moe_metrics.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/error.h"

namespace lp::eval {
namespace {

// Feeds one layer's routing (k ids per token) as a RoutingEvent.
void feed(ChunkRouting& r, int layer, int n_expert, int k, const std::vector<int32_t>& selected) {
  const std::vector<float> weights(selected.size(), 1.0f / static_cast<float>(k));
  engine::RoutingEvent e;
  e.layer = layer;
  e.n_expert = n_expert;
  e.k = k;
  e.n_tokens = static_cast<int>(selected.size()) / k;
  e.selected = selected.data();
  e.weights = weights.data();
  r.add(e);
}

TEST(MoeMetrics, PearsonMatchesClosedForm) {
  const std::vector<double> a = {1, 2, 3, 4}, b = {2, 4, 6, 8}, c = {4, 3, 2, 1};
  EXPECT_NEAR(pearson(a, b), 1.0, 1e-12);
  EXPECT_NEAR(pearson(a, c), -1.0, 1e-12);
  // x = {1,2,3}, y = {1,3,2}: cov 0.5, var 1 each (sample-free form) -> 0.5
  EXPECT_NEAR(pearson(std::vector<double>{1, 2, 3}, std::vector<double>{1, 3, 2}), 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(pearson(std::vector<double>{5, 5}, std::vector<double>{5, 5}), 1.0);  // constant and equal
  EXPECT_DOUBLE_EQ(pearson(std::vector<double>{5, 5}, std::vector<double>{1, 3}), 0.0);  // undefined: not equal
  EXPECT_DOUBLE_EQ(pearson(std::vector<double>{}, std::vector<double>{}), 0.0);
}

TEST(MoeMetrics, IdenticalRoutingAgreesFully) {
  ChunkRouting ref, q;
  const std::vector<int32_t> sel = {0, 1, 2, 3, 1, 0, 3, 2};  // 4 tokens, top-2 of 4
  for (int layer : {0, 1}) {
    feed(ref, layer, 4, 2, sel);
    feed(q, layer, 4, 2, sel);
  }
  MoeAccumulator acc;
  acc.add(ref, q);
  const auto m = acc.summary();
  ASSERT_TRUE(m.has_value());
  EXPECT_DOUBLE_EQ(m->topk_agreement, 1.0);
  EXPECT_DOUBLE_EQ(m->correlation, 1.0);  // every expert chosen twice: constant and equal
  EXPECT_EQ(m->decisions, 8u);
  EXPECT_EQ(m->never_original, 0);
  EXPECT_EQ(m->total_experts, 8);
  ASSERT_EQ(m->layers.size(), 2u);
}

TEST(MoeMetrics, SelectionOrderDoesNotMatterButTheSetDoes) {
  ChunkRouting ref, q;
  feed(ref, 3, 4, 2, {0, 1, 2, 3, 0, 2});
  feed(q, 3, 4, 2, {1, 0, 3, 2, 0, 3});  // same sets for tokens 0 and 1 (swapped order), token 2 differs
  MoeAccumulator acc;
  acc.add(ref, q);
  const auto m = acc.summary();
  ASSERT_TRUE(m.has_value());
  EXPECT_NEAR(m->topk_agreement, 2.0 / 3.0, 1e-12);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].layer, 3);
  // counts ref {2,1,2,1}, quant {2,1,1,2}: mean 1.5 each; cov 0.25+0.25-0.25-0.25 = 0... -> 0
  EXPECT_NEAR(m->layers[0].correlation, 0.0, 1e-12);
}

TEST(MoeMetrics, NeverActivatedExpertsAndPerLayerFigures) {
  ChunkRouting ref, q;
  // Layer 0: identical routing that never picks expert 3. Layer 1: quantized router collapses onto expert 0.
  feed(ref, 0, 4, 1, {0, 1, 2, 0, 1, 2});
  feed(q, 0, 4, 1, {0, 1, 2, 0, 1, 2});
  feed(ref, 1, 4, 1, {0, 1, 2, 3, 0, 1});
  feed(q, 1, 4, 1, {0, 0, 0, 0, 0, 0});
  MoeAccumulator acc;
  acc.add(ref, q);
  const auto m = acc.summary();
  ASSERT_TRUE(m.has_value());
  ASSERT_EQ(m->layers.size(), 2u);
  EXPECT_EQ(m->layers[0].never_original, 1);
  EXPECT_EQ(m->layers[0].never_quantized, 1);
  EXPECT_DOUBLE_EQ(m->layers[0].topk_agreement, 1.0);
  EXPECT_NEAR(m->layers[0].correlation, 1.0, 1e-12);
  EXPECT_EQ(m->layers[1].never_original, 0);
  EXPECT_EQ(m->layers[1].never_quantized, 3);
  EXPECT_NEAR(m->layers[1].topk_agreement, 2.0 / 6.0, 1e-12);
  // counts ref {2,2,1,1}, quant {6,0,0,0}: r = 3 / sqrt(1 * 27) = 0.577
  EXPECT_NEAR(m->layers[1].correlation, 3.0 / std::sqrt(27.0), 1e-12);
  EXPECT_EQ(m->never_original, 1);
  EXPECT_EQ(m->never_quantized, 4);
  EXPECT_NEAR(m->topk_agreement, 8.0 / 12.0, 1e-12);
  // overall over all 8 counts: ref {2,2,2,0,2,2,1,1}, quant {2,2,2,0,6,0,0,0}: r = 6 / sqrt(4 * 30)
  EXPECT_NEAR(m->correlation, 6.0 / std::sqrt(120.0), 1e-12);
}

TEST(MoeMetrics, BatchesOfOneLayerAreConcatenatedAcrossEventsAndChunks) {
  ChunkRouting ref, q;
  feed(ref, 0, 8, 2, {0, 1});
  feed(ref, 0, 8, 2, {2, 3, 4, 5});
  feed(q, 0, 8, 2, {0, 1, 2, 3, 4, 6});
  EXPECT_EQ(ref.layers.at(0).n_tokens(), 3u);
  MoeAccumulator acc;
  acc.add(ref, q);
  acc.add(ref, ref);  // a second chunk
  const auto m = acc.summary();
  ASSERT_TRUE(m.has_value());
  EXPECT_EQ(m->decisions, 6u);
  EXPECT_NEAR(m->topk_agreement, 5.0 / 6.0, 1e-12);
  EXPECT_EQ(m->layers[0].never_original, 2);   // experts 6, 7
  EXPECT_EQ(m->layers[0].never_quantized, 1);  // expert 7 (6 chosen once by the quantized model)
}

TEST(MoeMetrics, NoRoutingMeansNoSummary) {
  MoeAccumulator acc;
  EXPECT_FALSE(acc.summary().has_value());
  ChunkRouting empty;
  acc.add(empty, empty);
  EXPECT_FALSE(acc.summary().has_value());
}

TEST(MoeMetrics, InconsistentRoutingIsRefused) {
  ChunkRouting r;
  EXPECT_THROW(feed(r, 0, 4, 2, {0, 4}), lp::Error);  // expert id out of range
  feed(r, 1, 4, 2, {0, 1});
  EXPECT_THROW(feed(r, 1, 8, 2, {0, 1}), lp::Error);  // expert count changed
  ChunkRouting a, b, c;
  feed(a, 0, 4, 1, {0, 1});
  feed(b, 0, 4, 1, {0});
  feed(c, 2, 4, 1, {0, 1});
  MoeAccumulator acc;
  EXPECT_THROW(acc.add(a, b), lp::Error);  // token counts differ
  EXPECT_THROW(acc.add(a, c), lp::Error);  // different layers
}

}  // namespace
}  // namespace lp::eval
