#include "calib/shrinkage.h"

#include <algorithm>

#include "core/error.h"

namespace lp::calib {

std::vector<float> shrunk_expert_importance(const ImatrixEntry& e, int expert, int64_t npr, int64_t min_tokens) {
  const int64_t n_mat = e.n_mat();
  if (expert < 0 || expert >= std::max<int64_t>(n_mat, 1) || static_cast<int64_t>(e.sums.size()) < (expert + 1) * npr)
    fail("imatrix: no data for expert {} of {} columns", expert, npr);
  const size_t base = static_cast<size_t>(expert) * static_cast<size_t>(npr);
  std::vector<float> own(static_cast<size_t>(npr), 1.0f);
  const int64_t count = n_mat > 0 ? e.counts[static_cast<size_t>(std::min<int64_t>(expert, n_mat - 1))] : 0;
  if (count > 0)
    for (int64_t i = 0; i < npr; ++i) own[static_cast<size_t>(i)] = e.sums[base + static_cast<size_t>(i)] / static_cast<float>(count);
  if (n_mat < 2 || min_tokens <= 0 || count >= min_tokens) return own;

  // Pooled statistics of the other experts, accumulated in double: sums over many tokens.
  std::vector<double> pooled(static_cast<size_t>(npr), 0.0);
  int64_t pooled_count = 0;
  for (int64_t x = 0; x < n_mat; ++x) {
    if (x == expert || e.counts[static_cast<size_t>(x)] == 0) continue;
    pooled_count += e.counts[static_cast<size_t>(x)];
    const float* s = e.sums.data() + static_cast<size_t>(x) * static_cast<size_t>(npr);
    for (int64_t i = 0; i < npr; ++i) pooled[static_cast<size_t>(i)] += s[i];
  }
  if (pooled_count == 0) return own;  // nobody in the layer saw tokens: own stats, or uniform if none
  const double a = static_cast<double>(count) / static_cast<double>(min_tokens);
  std::vector<float> out(static_cast<size_t>(npr));
  for (int64_t i = 0; i < npr; ++i) {
    const double prior = pooled[static_cast<size_t>(i)] / static_cast<double>(pooled_count);
    const double mine = count > 0 ? static_cast<double>(own[static_cast<size_t>(i)]) : 0.0;
    out[static_cast<size_t>(i)] = static_cast<float>(a * mine + (1.0 - a) * prior);
  }
  return out;
}

}  // namespace lp::calib
