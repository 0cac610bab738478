// Expert coverage from synthetic routing events, the shrinkage fallback for rarely routed experts, and the
// per-expert imatrix counts the calibration observers produce.
#include <gtest/gtest.h>

#include <filesystem>

#include "calib/calibrate.h"
#include "calib/coverage.h"
#include "calib/imatrix.h"
#include "calib/shrinkage.h"
#include "core/error.h"
#include "engine/observers.h"
#include "scratch_path.h"

namespace fs = std::filesystem;
using namespace lp::calib;

TEST(ExpertCoverage, CountsRoutedTokensPerLayerAndFlagsRareExperts) {
  ExpertCoverage cov;
  cov.threshold = 3;
  // layer 1: 4 tokens top-2 over 4 experts; layer 3: 4 tokens top-1
  const std::vector<int32_t> l1 = {0, 1, 0, 2, 1, 0, 0, 2};
  const std::vector<int32_t> l3 = {3, 3, 3, 1};
  add_routing(cov.routed, 1, 4, 2, l1);
  add_routing(cov.routed, 3, 4, 1, l3);
  cov.tokens = 4;
  EXPECT_EQ(cov.routed.at(1), (std::vector<int64_t>{4, 2, 2, 0}));
  EXPECT_EQ(cov.routed.at(3), (std::vector<int64_t>{0, 1, 0, 3}));
  const auto layers = cov.layers();
  ASSERT_EQ(layers.size(), 2u);
  EXPECT_EQ(layers[0].min, 0);
  EXPECT_EQ(layers[0].median, 2);
  EXPECT_EQ(layers[0].max, 4);
  EXPECT_EQ(layers[0].under, (std::vector<ExpertRef>{{1, 1, 2}, {1, 2, 2}, {1, 3, 0}}));
  EXPECT_EQ(cov.under_threshold().size(), 6u);
  // deficit: layer 1: 1+1+3, layer 3: 3+2+3
  EXPECT_EQ(cov.deficit(), 13);
  const std::string text = cov.render();
  EXPECT_NE(text.find("layer   1: 4 experts, tokens min 0 / median 2 / max 4, 3 under: 1(2) 2(2) 3(0)"), std::string::npos) << text;
  EXPECT_NE(text.find("6 experts under the threshold"), std::string::npos);

  // JSON round trip through a file (what the planner reads)
  const fs::path p = lp::test::scratch_path("lp_expert_coverage_test.json");
  cov.save(p.string());
  ExpertCoverage back = ExpertCoverage::load(p.string());
  EXPECT_EQ(back.routed, cov.routed);
  EXPECT_EQ(back.threshold, 3);
  EXPECT_EQ(back.tokens, 4);
  EXPECT_EQ(cov.to_json()["under_threshold_total"], 6);
  EXPECT_THROW(ExpertCoverage::from_json(nlohmann::json{{"format", "other"}}, "x.json"), lp::Error);
  EXPECT_THROW(ExpertCoverage::load((fs::temp_directory_path() / "lp_no_such_coverage.json").string()), lp::Error);
}

TEST(ExpertCoverage, RejectsInconsistentEvents) {
  ExpertCounts c;
  const std::vector<int32_t> bad = {0, 7};
  EXPECT_THROW(add_routing(c, 0, 4, 2, bad), lp::Error);  // expert 7 of 4
  const std::vector<int32_t> ok = {0, 1};
  add_routing(c, 0, 4, 2, ok);
  EXPECT_THROW(add_routing(c, 0, 8, 2, ok), lp::Error);  // layer 0 changed its expert count
  const std::vector<int32_t> odd = {0, 1, 2};
  EXPECT_THROW(add_routing(c, 0, 4, 2, odd), lp::Error);  // not a multiple of k
}

TEST(Shrinkage, BlendsRareExpertsTowardTheLayerPooledMean) {
  // 3 experts x 2 columns: expert 0 many tokens, expert 1 few, expert 2 none
  ImatrixEntry e;
  e.counts = {100, 16, 0};
  e.sums = {100 * 2.0f, 100 * 4.0f,  // mean (2, 4)
            16 * 10.0f, 16 * 0.5f,   // mean (10, 0.5)
            0, 0};
  const int64_t N = 64;
  // enough tokens: own statistics exactly
  EXPECT_EQ(shrunk_expert_importance(e, 0, 2, N), (std::vector<float>{2.0f, 4.0f}));
  // 16 of 64 tokens: a = 0.25 blend with the pooled mean of the others (only expert 0 has tokens)
  auto rare = shrunk_expert_importance(e, 1, 2, N);
  EXPECT_FLOAT_EQ(rare[0], 0.25f * 10 + 0.75f * 2);
  EXPECT_FLOAT_EQ(rare[1], 0.25f * 0.5f + 0.75f * 4);
  // never routed: the pooled mean of experts 0 and 1, count-weighted
  auto unseen = shrunk_expert_importance(e, 2, 2, N);
  EXPECT_FLOAT_EQ(unseen[0], (200.0f + 160.0f) / 116);
  EXPECT_FLOAT_EQ(unseen[1], (400.0f + 8.0f) / 116);
  // shrinkage off: llama.cpp's own-mean / uniform behaviour
  EXPECT_EQ(shrunk_expert_importance(e, 2, 2, 0), (std::vector<float>{1.0f, 1.0f}));
  EXPECT_FLOAT_EQ(shrunk_expert_importance(e, 1, 2, 0)[0], 10.0f);
  // a layer nobody reached: uniform, never a crash
  ImatrixEntry empty;
  empty.counts = {0, 0};
  empty.sums = {0, 0, 0, 0};
  EXPECT_EQ(shrunk_expert_importance(empty, 1, 2, N), (std::vector<float>{1.0f, 1.0f}));
  EXPECT_THROW(shrunk_expert_importance(e, 3, 2, N), lp::Error);
  // Imatrix::importance applies it with expert_shrinkage_tokens
  Imatrix im;
  im.entries["blk.0.ffn_up_exps.weight"] = e;
  EXPECT_FLOAT_EQ((*im.importance("blk.0.ffn_up_exps.weight", 1, 2))[0], 0.25f * 10 + 0.75f * 2);
  im.expert_shrinkage_tokens = 0;
  EXPECT_FLOAT_EQ((*im.importance("blk.0.ffn_up_exps.weight", 1, 2))[0], 10.0f);
}

// Fake engine: a MoE layer routes tokens, and each expert matmul reports only its rows through the hooks, the
// way calibrate() wires them. The imatrix counts per expert must equal the tokens routed to that expert.
TEST(ExpertCoverage, ImatrixCountsPerExpertEqualTokensRouted) {
  Imatrix im;
  ExpertCoverage cov;
  const lp::engine::Observers obs = calibration_observers(im, cov);
  const int n_tokens = 5, k = 2, n_expert = 4, cols = 3;
  const std::vector<int32_t> selected = {0, 2, 2, 1, 0, 2, 3, 2, 0, 1};
  const std::vector<float> weights(selected.size(), 0.5f);
  std::vector<float> x(static_cast<size_t>(n_tokens * cols));
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  obs.routing(lp::engine::RoutingEvent{2, n_tokens, n_expert, k, selected.data(), weights.data()});
  const std::string name = "blk.2.ffn_up_exps.weight";
  for (int e = 0; e < n_expert; ++e) {
    std::vector<float> rows;
    int n = 0;
    for (int t = 0; t < n_tokens; ++t)
      for (int j = 0; j < k; ++j)
        if (selected[static_cast<size_t>(t * k + j)] == e) {
          rows.insert(rows.end(), x.begin() + t * cols, x.begin() + (t + 1) * cols);
          ++n;
        }
    if (n > 0) obs.activation(lp::engine::ActivationEvent{name, e, n_expert, rows.data(), n, cols});
  }
  EXPECT_EQ(im.entries.at(name).counts, cov.routed.at(2));
  EXPECT_EQ(cov.routed.at(2), (std::vector<int64_t>{3, 2, 4, 1}));
  // expert 3 saw token 3 only: x row 3 = (9, 10, 11)
  EXPECT_FLOAT_EQ(im.entries.at(name).sums[3 * cols + 1], 100.0f);
}
