#include "calib/balance.h"

#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "calib/dataset.h"
#include "core/error.h"

namespace lp::calib {
namespace {

// How much of the deficit `c` (against threshold t) a sample with `u` would remove.
int64_t deficit_reduction(const ExpertCounts& current, const ExpertCounts& u, int64_t t) {
  int64_t gain = 0;
  for (const auto& [layer, v] : u) {
    auto it = current.find(layer);
    for (size_t e = 0; e < v.size(); ++e) {
      const int64_t have = it == current.end() ? 0 : it->second[e];
      gain += std::min(v[e], std::max<int64_t>(0, t - have));
    }
  }
  return gain;
}

// Zero counts with the pool's shape, so experts nobody reaches still show up as under threshold.
ExpertCounts zero_like(const std::vector<BalanceCandidate>& candidates) {
  ExpertCounts z;
  for (const auto& c : candidates)
    for (const auto& [layer, v] : c.routed) {
      auto& slot = z[layer];
      if (slot.empty()) slot.assign(v.size(), 0);
      if (slot.size() != v.size())
        fail("expert balance: candidate {} has {} experts in layer {}, others {}", c.id, v.size(), layer, slot.size());
    }
  return z;
}

std::vector<ExpertRef> under(const ExpertCounts& c, int64_t t) {
  std::vector<ExpertRef> out;
  for (const auto& [layer, v] : c)
    for (size_t e = 0; e < v.size(); ++e)
      if (v[e] < t) out.push_back({layer, static_cast<int>(e), v[e]});
  return out;
}

}  // namespace

BalanceReport balance_experts(const std::vector<BalanceCandidate>& cands, const BalanceOptions& o) {
  if (o.token_budget < 1) fail("expert balance: token budget must be positive (got {})", o.token_budget);
  if (o.threshold < 0) fail("expert balance: threshold must not be negative (got {})", o.threshold);
  BalanceReport r;
  r.token_budget = o.token_budget;
  r.threshold = o.threshold;
  const ExpertCounts zero = zero_like(cands);

  ExpertCounts pool = zero;
  for (const auto& c : cands) add_counts(pool, c.routed);
  r.deficit_pool = coverage_deficit(pool, o.threshold);

  // Seeded rank: breaks score ties and orders the fill of non-preferred candidates.
  std::vector<size_t> rank(cands.size());
  {
    std::vector<size_t> order(cands.size());
    std::iota(order.begin(), order.end(), size_t{0});
    SplitMix64 rng(o.seed);
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    for (size_t i = 0; i < order.size(); ++i) rank[order[i]] = i;
  }
  // Fill order: preferred samples in their given order, then the others by seeded rank.
  std::vector<size_t> fill_order(cands.size());
  std::iota(fill_order.begin(), fill_order.end(), size_t{0});
  std::stable_sort(fill_order.begin(), fill_order.end(), [&](size_t a, size_t b) {
    if (cands[a].preferred != cands[b].preferred) return cands[a].preferred;
    return cands[a].preferred ? a < b : rank[a] < rank[b];
  });
  auto fill = [&](std::vector<size_t>& chosen, std::vector<bool>& used, ExpertCounts& counts, int64_t& tokens) {
    for (size_t i : fill_order) {
      if (tokens >= o.token_budget) break;
      if (used[i] || cands[i].tokens < 1) continue;
      used[i] = true;
      chosen.push_back(i);
      tokens += cands[i].tokens;
      add_counts(counts, cands[i].routed);
    }
  };
  {
    std::vector<size_t> chosen;
    std::vector<bool> used(cands.size(), false);
    ExpertCounts counts = zero;
    int64_t tokens = 0;
    fill(chosen, used, counts, tokens);
    r.deficit_unbalanced = coverage_deficit(counts, o.threshold);
  }

  // Greedy: best deficit reduction per token among the candidates that still fit in the budget.
  std::vector<bool> used(cands.size(), false);
  ExpertCounts counts = zero;
  int64_t tokens = 0;
  while (coverage_deficit(counts, o.threshold) > 0) {
    size_t best = cands.size();
    double best_score = 0;
    for (size_t i = 0; i < cands.size(); ++i) {
      if (used[i] || cands[i].tokens < 1 || tokens + cands[i].tokens > o.token_budget) continue;
      const int64_t gain = deficit_reduction(counts, cands[i].routed, o.threshold);
      if (gain == 0) continue;
      const double score = static_cast<double>(gain) / static_cast<double>(cands[i].tokens);
      if (best == cands.size() || score > best_score || (score == best_score && rank[i] < rank[best])) {
        best = i;
        best_score = score;
      }
    }
    if (best == cands.size()) break;  // no remaining candidate helps (or fits)
    used[best] = true;
    r.chosen.push_back(best);
    tokens += cands[best].tokens;
    add_counts(counts, cands[best].routed);
  }
  r.greedy_picks = r.chosen.size();
  fill(r.chosen, used, counts, tokens);
  r.tokens = tokens;
  r.predicted = counts;
  r.deficit_balanced = coverage_deficit(counts, o.threshold);
  for (const auto& u : under(counts, o.threshold)) {
    if (pool.at(u.layer)[static_cast<size_t>(u.expert)] < o.threshold) r.unreachable_in_pool.push_back(u);
    else r.short_of_budget.push_back(u);
  }
  return r;
}

namespace {
nlohmann::ordered_json refs_json(const std::vector<ExpertRef>& refs) {
  auto a = nlohmann::ordered_json::array();
  for (const auto& x : refs) a.push_back({{"layer", x.layer}, {"expert", x.expert}, {"tokens", x.tokens}});
  return a;
}
}  // namespace

nlohmann::ordered_json BalanceReport::to_json(const std::vector<BalanceCandidate>& cands) const {
  nlohmann::ordered_json j;
  j["threshold"] = threshold;
  j["token_budget"] = token_budget;
  j["tokens"] = tokens;
  j["candidates"] = cands.size();
  j["greedy_picks"] = greedy_picks;
  j["deficit_pool"] = deficit_pool;
  j["deficit_unbalanced"] = deficit_unbalanced;
  j["deficit_balanced"] = deficit_balanced;
  auto samples = nlohmann::ordered_json::array();
  for (size_t n = 0; n < chosen.size(); ++n) {
    const auto& c = cands[chosen[n]];
    samples.push_back({{"id", c.id}, {"tokens", c.tokens}, {"reason", n < greedy_picks ? "coverage" : "fill"}});
  }
  j["chosen"] = samples;
  j["unreachable_in_pool"] = refs_json(unreachable_in_pool);
  j["short_of_budget"] = refs_json(short_of_budget);
  return j;
}

std::string BalanceReport::render(const std::vector<BalanceCandidate>& cands) const {
  std::string s = fmt::format(
      "expert balance: {} candidates profiled; {} samples picked for coverage + {} to fill, {} tokens (budget {})\n"
      "  predicted deficit below {} tokens/expert: plain {} -> balanced {} (whole pool {})\n",
      cands.size(), greedy_picks, chosen.size() - greedy_picks, tokens, token_budget, threshold, deficit_unbalanced,
      deficit_balanced, deficit_pool);
  auto list = [](const std::vector<ExpertRef>& refs) {
    std::string l;
    for (const auto& x : refs) l += fmt::format(" L{}/E{}({})", x.layer, x.expert, x.tokens);
    return l;
  };
  if (!unreachable_in_pool.empty())
    s += fmt::format("  unreachable with this pool ({}):{}\n", unreachable_in_pool.size(), list(unreachable_in_pool));
  if (!short_of_budget.empty())
    s += fmt::format("  reachable but out of budget ({}):{}\n", short_of_budget.size(), list(short_of_budget));
  return s;
}

}  // namespace lp::calib
