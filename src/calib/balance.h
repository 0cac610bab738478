// Expert-balanced calibration set selection. Each candidate sample was profiled alone (tokens routed to each
// expert); the balancer picks samples greedily — each time the one that removes the most coverage deficit
// (sum over experts of max(0, threshold - tokens)) per token it costs — until every expert reaches the
// threshold, no remaining candidate helps, or nothing else fits in the token budget. The rest of the budget is
// then filled with the preferred samples (the user's calibration text, in order), then the other candidates
// in a seeded order. Candidates are used at most once: repeating a sample would raise counts without adding
// information. Deterministic for a given seed.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "calib/coverage.h"

namespace lp::calib {

struct BalanceCandidate {
  std::string id;        // "chat/chat007", "user/notes.txt#3"
  int64_t tokens = 0;    // tokens the sample costs in the calibration stream
  ExpertCounts routed;   // tokens routed to each expert when the sample is evaluated alone
  bool preferred = false;  // part of the user's calibration set: used first when filling the budget
};

struct BalanceOptions {
  int64_t threshold = 64;
  int64_t token_budget = 0;  // > 0
  uint64_t seed = 42;
};

struct BalanceReport {
  std::vector<size_t> chosen;  // candidate indices in stream order: greedy picks first, then the fill
  size_t greedy_picks = 0;     // chosen[0, greedy_picks) were picked for coverage
  int64_t tokens = 0;          // sum of chosen candidates' tokens (the fill may pass the budget by one sample)
  int64_t token_budget = 0;
  int64_t threshold = 0;
  int64_t deficit_pool = 0;        // deficit if every candidate were used (what no budget can fix)
  int64_t deficit_unbalanced = 0;  // deficit of the plain fill (preferred first) without balancing
  int64_t deficit_balanced = 0;    // predicted deficit of the chosen set
  ExpertCounts predicted;          // predicted tokens per expert of the chosen set (sum of profiles)
  // Experts still under the threshold, split by why: the whole pool routes fewer tokens to them than the
  // threshold (unreachable with this pool), or the budget ran out first.
  std::vector<ExpertRef> unreachable_in_pool;
  std::vector<ExpertRef> short_of_budget;

  nlohmann::ordered_json to_json(const std::vector<BalanceCandidate>& candidates) const;
  std::string render(const std::vector<BalanceCandidate>& candidates) const;
};

// Errors: token_budget < 1, threshold < 0, or candidates whose expert counts disagree in shape.
BalanceReport balance_experts(const std::vector<BalanceCandidate>& candidates, const BalanceOptions& options);

}  // namespace lp::calib
