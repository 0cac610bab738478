// The allocation solver: budget respected, optimal on small cases (checked by brute force), monotone in the
// budget, fixed items (user overrides) kept, and a clear error below the reachable minimum.
#include <gtest/gtest.h>

#include <random>

#include "allocate/candidates.h"
#include "allocate/solver.h"
#include "core/error.h"

namespace lp::allocate {
namespace {

Item tensor(const std::string& name, std::vector<std::pair<uint64_t, double>> bytes_loss) {
  const GgmlType types[] = {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0};
  Item it{name, {}};
  for (size_t i = 0; i < bytes_loss.size(); ++i) it.options.push_back({types[i], bytes_loss[i].first, bytes_loss[i].second});
  return it;
}

std::vector<Item> random_items(std::mt19937& rng, int n) {
  std::uniform_int_distribution<uint64_t> size(100, 5000);
  std::uniform_real_distribution<double> sens(0.1, 10.0);
  std::vector<Item> items;
  for (int i = 0; i < n; ++i) {
    const uint64_t s = size(rng);
    const double k = sens(rng);
    // Larger types cost more bytes and lose less, as real quantization does.
    items.push_back(tensor("t" + std::to_string(i), {{s * 2, k * 8}, {s * 3, k * 4}, {s * 4, k * 2}, {s * 6, k}}));
  }
  return items;
}

double brute_force(const std::vector<Item>& items, uint64_t budget) {
  double best = 1e300;
  std::vector<size_t> idx(items.size(), 0);
  while (true) {
    uint64_t b = 0;
    double l = 0;
    for (size_t i = 0; i < items.size(); ++i) {
      b += items[i].options[idx[i]].bytes;
      l += items[i].options[idx[i]].loss;
    }
    if (b <= budget) best = std::min(best, l);
    size_t k = 0;
    while (k < items.size() && ++idx[k] == items[k].options.size()) idx[k++] = 0;
    if (k == items.size()) return best;
  }
}

TEST(AllocateSolver, RespectsBudgetAndMatchesBruteForce) {
  std::mt19937 rng(7);
  for (int trial = 0; trial < 20; ++trial) {
    auto items = random_items(rng, 5);
    const uint64_t lo = min_total_bytes(items);
    const uint64_t budget = lo + (rng() % (lo * 2));
    const Solution s = solve(items, budget);
    EXPECT_LE(s.bytes, budget);
    // Unit-exact here (totals far below max_units), so the DP is the true optimum.
    EXPECT_NEAR(s.loss, brute_force(items, budget), 1e-9) << "trial " << trial;
  }
}

TEST(AllocateSolver, LossNeverRisesWithBudget) {
  std::mt19937 rng(11);
  auto items = random_items(rng, 40);
  const uint64_t lo = min_total_bytes(items);
  double prev = 1e300;
  for (uint64_t budget = lo; budget <= lo * 3; budget += lo / 50) {
    const Solution s = solve(items, budget, /*max_units=*/2000);  // coarse units: rounding must not break monotonicity
    EXPECT_LE(s.bytes, budget);
    EXPECT_LE(s.loss, prev + 1e-12) << "budget " << budget;
    prev = s.loss;
  }
}

TEST(AllocateSolver, FixedItemsKeepTheirOnlyOption) {
  std::vector<Item> items = {tensor("free", {{100, 8}, {200, 1}}), Item{"user_override", {{GgmlType::Q8_0, 500, 0}}}};
  const Solution s = solve(items, 700);
  EXPECT_EQ(s.choice[1], 0u);
  EXPECT_EQ(items[1].options[s.choice[1]].type, GgmlType::Q8_0);
  EXPECT_EQ(s.choice[0], 1u);  // 200 + 500 fits
  EXPECT_EQ(solve(items, 650).choice[0], 0u);
}

TEST(AllocateSolver, SpendsBytesWhereLossDropsMost) {
  // Same sizes; "sensitive" gains 90 from the upgrade, "robust" gains 1: one upgrade fits, it goes to "sensitive".
  std::vector<Item> items = {tensor("robust", {{100, 2}, {200, 1}}), tensor("sensitive", {{100, 100}, {200, 10}})};
  const Solution s = solve(items, 300);
  EXPECT_EQ(s.choice[0], 0u);
  EXPECT_EQ(s.choice[1], 1u);
}

TEST(AllocateSolver, BelowMinimumSaysTheMinimum) {
  std::vector<Item> items = {tensor("a", {{100, 2}, {200, 1}}), tensor("b", {{50, 2}, {80, 1}})};
  EXPECT_EQ(min_total_bytes(items), 150u);
  try {
    solve(items, 149);
    FAIL() << "expected an error";
  } catch (const lp::Error& e) {
    EXPECT_NE(std::string(e.what()).find("150"), std::string::npos) << e.what();
  }
}

TEST(AllocateCandidates, FallbacksForNarrowRows) {
  const auto wide = candidate_types(256);
  EXPECT_NE(std::find(wide.begin(), wide.end(), GgmlType::Q4_K), wide.end());
  const auto narrow = candidate_types(96);  // not a multiple of 256: no K-quants, their fallbacks instead
  for (GgmlType t : narrow) EXPECT_EQ(96 % ggml_traits(t).block_size, 0) << ggml_type_name(t);
  EXPECT_EQ(std::find(narrow.begin(), narrow.end(), GgmlType::Q4_K), narrow.end());
  for (size_t i = 1; i < wide.size(); ++i) EXPECT_LE(ggml_row_bytes(wide[i - 1], 256), ggml_row_bytes(wide[i], 256));
}

}  // namespace
}  // namespace lp::allocate
