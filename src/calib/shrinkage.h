// Importance for rarely routed experts. An expert that calibration reached with only a few tokens has a noisy
// per-column mean of squared activations; one it never reached has none. Instead of trusting a handful of
// tokens (or falling back to uniform weights as llama.cpp does), its importance is a count-weighted blend
// of its own statistics with the pooled statistics of the layer's other experts (which see inputs from the
// same residual stream, normed the same way):
//     a = min(1, count / N);  importance = a * own_mean + (1 - a) * pooled_mean_of_other_experts
// where own_mean = sums / count and pooled = (sum of the others' sums) / (sum of their counts). An expert
// with N or more tokens keeps exactly its own statistics; one with none gets the pooled mean. When no other
// expert saw tokens either, the uniform fallback (all ones) is used. See docs/CALIBRATION.md.
#pragma once
#include <cstdint>
#include <vector>

#include "calib/imatrix.h"

namespace lp::calib {

// The blend above for expert `expert` of a stacked entry (n_mat > 1, per-expert counts). Dense entries and
// legacy files (one ncall for all experts) have nothing to shrink toward: their plain importance is returned.
std::vector<float> shrunk_expert_importance(const ImatrixEntry& entry, int expert, int64_t n_per_row,
                                            int64_t min_tokens);

}  // namespace lp::calib
