// The expert balancer on synthetic candidate profiles: reaches the threshold when the pool allows it, reports
// what it cannot reach and why, respects the token budget and is deterministic for a seed.
#include <gtest/gtest.h>

#include <algorithm>

#include "calib/balance.h"
#include "core/error.h"

using namespace lp::calib;

namespace {
// One MoE layer (id 0) of 4 experts; `per_expert` tokens routed to each.
BalanceCandidate cand(std::string id, int64_t tokens, std::vector<int64_t> per_expert, bool preferred = false) {
  BalanceCandidate c;
  c.id = std::move(id);
  c.tokens = tokens;
  c.routed[0] = std::move(per_expert);
  c.preferred = preferred;
  return c;
}

std::vector<BalanceCandidate> pool() {
  // Common text hits experts 0 and 1 (top-2 of 4: routed sums to 2 x tokens); a few samples hit rare ones.
  std::vector<BalanceCandidate> p;
  for (int i = 0; i < 6; ++i) p.push_back(cand("user#" + std::to_string(i), 100, {100, 95, 5, 0}, true));
  p.push_back(cand("code/a", 100, {60, 60, 40, 40}));
  p.push_back(cand("code/b", 100, {70, 70, 50, 10}));
  p.push_back(cand("prose/c", 100, {100, 100, 0, 0}));
  p.push_back(cand("chat/d", 50, {30, 30, 20, 20}));
  return p;
}
}  // namespace

TEST(ExpertBalance, ReachesTheThresholdWhenThePoolAllows) {
  const auto p = pool();
  BalanceOptions o;
  o.threshold = 64;
  o.token_budget = 400;
  const BalanceReport r = balance_experts(p, o);
  // plain fill (the user's text first) never reaches expert 3
  EXPECT_GT(r.deficit_unbalanced, 0);
  EXPECT_EQ(r.deficit_balanced, 0);
  EXPECT_TRUE(r.unreachable_in_pool.empty());
  EXPECT_TRUE(r.short_of_budget.empty());
  for (int64_t c : r.predicted.at(0)) EXPECT_GE(c, 64);
  ASSERT_GE(r.greedy_picks, 1u);
  // the greedy picks are the rare-expert samples, and the budget is respected (fill may pass by one sample)
  for (size_t i = 0; i < r.greedy_picks; ++i) EXPECT_EQ(p[r.chosen[i]].id.rfind("user#", 0), std::string::npos);
  EXPECT_GE(r.tokens, o.token_budget);
  EXPECT_LT(r.tokens, o.token_budget + 100);
  // every candidate at most once
  auto sorted = r.chosen;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(std::adjacent_find(sorted.begin(), sorted.end()), sorted.end());
  // predicted counts are the sum of the chosen profiles
  std::vector<int64_t> sum(4, 0);
  for (size_t i : r.chosen)
    for (size_t e = 0; e < 4; ++e) sum[e] += p[i].routed.at(0)[e];
  EXPECT_EQ(r.predicted.at(0), sum);
  const auto j = r.to_json(p);
  EXPECT_EQ(j["chosen"].size(), r.chosen.size());
  EXPECT_EQ(j["chosen"][0]["reason"], "coverage");
}

TEST(ExpertBalance, ReportsUnreachableExpertsAndWhy) {
  auto p = pool();
  BalanceOptions o;
  o.threshold = 64;
  // a budget of 150 tokens: code/a + chat/d fit (150) but expert 3 then has 60 < 64
  o.token_budget = 150;
  BalanceReport r = balance_experts(p, o);
  EXPECT_GT(r.deficit_balanced, 0);
  EXPECT_LE(r.tokens, 250);
  ASSERT_FALSE(r.short_of_budget.empty());
  EXPECT_TRUE(r.unreachable_in_pool.empty());
  // a 5th expert that nothing in the pool reaches: unreachable whatever the budget
  for (auto& c : p) c.routed[0].push_back(0);
  p.back().routed[0].back() = 3;
  o.token_budget = 100000;
  r = balance_experts(p, o);
  ASSERT_EQ(r.unreachable_in_pool.size(), 1u);
  EXPECT_EQ(r.unreachable_in_pool[0], (ExpertRef{0, 4, 3}));
  EXPECT_TRUE(r.short_of_budget.empty());
  EXPECT_EQ(r.deficit_balanced, r.deficit_pool);
  EXPECT_NE(r.render(p).find("unreachable with this pool (1): L0/E4(3)"), std::string::npos) << r.render(p);
}

TEST(ExpertBalance, IsDeterministicForASeedAndValidatesOptions) {
  // many identical rare-expert samples: ties broken by the seeded rank
  std::vector<BalanceCandidate> p;
  for (int i = 0; i < 20; ++i) p.push_back(cand("rare#" + std::to_string(i), 10, {5, 5, 5, 5}));
  BalanceOptions o;
  o.threshold = 20;
  o.token_budget = 60;
  const auto a = balance_experts(p, o), b = balance_experts(p, o);
  EXPECT_EQ(a.chosen, b.chosen);
  o.seed = 7;
  const auto c = balance_experts(p, o);
  EXPECT_NE(a.chosen, c.chosen);
  EXPECT_EQ(a.deficit_balanced, c.deficit_balanced);
  o.token_budget = 0;
  EXPECT_THROW(balance_experts(p, o), lp::Error);
  o.token_budget = 10;
  p[3].routed[0].push_back(1);  // another expert count for layer 0
  EXPECT_THROW(balance_experts(p, o), lp::Error);
}
