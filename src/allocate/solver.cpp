#include "allocate/solver.h"

#include <algorithm>
#include <limits>

#include "core/error.h"

namespace lp::allocate {

uint64_t min_total_bytes(const std::vector<Item>& items) {
  uint64_t total = 0;
  for (const auto& it : items) {
    if (it.options.empty()) fail("allocate: tensor {} has no candidate type", it.name);
    uint64_t m = std::numeric_limits<uint64_t>::max();
    for (const auto& o : it.options) m = std::min(m, o.bytes);
    total += m;
  }
  return total;
}

Solution solve(const std::vector<Item>& items, uint64_t budget, uint64_t max_units) {
  const uint64_t min_bytes = min_total_bytes(items);
  if (budget < min_bytes)
    fail("allocate: a budget of {} bytes is below the smallest this model's tensors can reach ({} bytes)", budget, min_bytes);

  // Bytes above each item's smallest option, in units of `granule` rounded up: the minimum is always
  // reachable and the budget never exceeded. The granule comes from the largest possible extra only (not the
  // budget), which keeps the optimum monotone in the budget.
  std::vector<uint64_t> base(items.size());
  uint64_t max_extra = 0;
  for (size_t i = 0; i < items.size(); ++i) {
    uint64_t lo = std::numeric_limits<uint64_t>::max(), hi = 0;
    for (const auto& o : items[i].options) {
      lo = std::min(lo, o.bytes);
      hi = std::max(hi, o.bytes);
    }
    base[i] = lo;
    max_extra += hi - lo;
  }
  const uint64_t granule = std::max<uint64_t>(1, (max_extra + max_units - 1) / max_units);
  auto units_of = [&](size_t i, uint64_t bytes) { return (bytes - base[i] + granule - 1) / granule; };
  const uint64_t cap = std::min<uint64_t>((budget - min_bytes) / granule, (max_extra + granule - 1) / granule);

  // best[u] = least loss of the items seen so far within u extra units.
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> best(cap + 1, 0.0), next(cap + 1);
  std::vector<std::vector<uint8_t>> pick(items.size(), std::vector<uint8_t>(cap + 1, 0));
  for (size_t i = 0; i < items.size(); ++i) {
    const auto& opts = items[i].options;
    if (opts.size() > 255) fail("allocate: tensor {} has too many candidate types", items[i].name);
    std::fill(next.begin(), next.end(), inf);
    for (size_t k = 0; k < opts.size(); ++k) {
      const uint64_t w = units_of(i, opts[k].bytes);
      for (uint64_t u = w; u <= cap; ++u) {
        const double v = best[u - w] + opts[k].loss;
        if (v < next[u]) {
          next[u] = v;
          pick[i][u] = static_cast<uint8_t>(k);
        }
      }
    }
    best.swap(next);
  }

  Solution s;
  s.choice.resize(items.size());
  uint64_t u = cap;
  for (size_t i = items.size(); i-- > 0;) {
    const size_t k = pick[i][u];
    s.choice[i] = k;
    u -= units_of(i, items[i].options[k].bytes);
    s.bytes += items[i].options[k].bytes;
    s.loss += items[i].options[k].loss;
  }
  return s;
}

}  // namespace lp::allocate
