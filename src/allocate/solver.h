// Multiple-choice knapsack: pick one option (a ggml type) per tensor so that the summed predicted loss is
// minimal and the summed bytes stay within a budget. Exact dynamic programming over bytes counted in units of
// `granule` (each option's bytes rounded up, so the budget is never exceeded). The granule depends only on the
// items, never on the budget, so a larger budget can never give a higher optimal loss (monotone).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/ggml_type.h"

namespace lp::allocate {

struct Option {
  GgmlType type;
  uint64_t bytes = 0;
  double loss = 0;  // predicted loss when the tensor is stored in `type` (lower is better)
};

struct Item {
  std::string name;
  std::vector<Option> options;  // a fixed tensor (user override, F32 norm) has exactly one
};

struct Solution {
  std::vector<size_t> choice;  // option index per item
  uint64_t bytes = 0;          // exact (not rounded) total
  double loss = 0;
};

// The smallest total the items can reach (every item at its smallest option).
uint64_t min_total_bytes(const std::vector<Item>& items);

// Throws lp::Error when budget < min_total_bytes (the message gives the minimum) or an item has no option.
// max_units bounds the DP table (items x units); the default keeps rounding under ~0.01% of the largest total.
Solution solve(const std::vector<Item>& items, uint64_t budget, uint64_t max_units = 100000);

}  // namespace lp::allocate
