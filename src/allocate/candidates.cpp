#include "allocate/candidates.h"

#include <algorithm>

#include "engine/model.h"
#include "quant/quantize.h"

namespace lp::allocate {

const std::vector<GgmlType>& candidate_ladder(bool with_importance) {
  static const std::vector<GgmlType> ladder = {GgmlType::Q2_K, GgmlType::Q3_K,   GgmlType::IQ4_XS, GgmlType::Q4_K,
                                               GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::Q8_0};
  static const std::vector<GgmlType> with_iq = {GgmlType::IQ2_XXS, GgmlType::IQ2_XS, GgmlType::IQ2_S,
                                                GgmlType::Q2_K,    GgmlType::IQ3_XXS, GgmlType::IQ3_S,
                                                GgmlType::Q3_K,    GgmlType::IQ4_XS, GgmlType::Q4_K,
                                                GgmlType::Q5_K,    GgmlType::Q6_K,   GgmlType::Q8_0};
  return with_importance ? with_iq : ladder;
}

std::vector<GgmlType> candidate_types(int64_t ncols, bool with_importance) {
  std::vector<GgmlType> out;
  for (GgmlType want : candidate_ladder(with_importance)) {
    const GgmlType t = quant::fallback_type(want, ncols);
    if (!quant::can_quantize(t) || !engine::engine_supports_type(t)) continue;
    if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  std::stable_sort(out.begin(), out.end(), [ncols](GgmlType a, GgmlType b) {
    return ggml_row_bytes(a, static_cast<uint64_t>(ncols)) < ggml_row_bytes(b, static_cast<uint64_t>(ncols));
  });
  return out;
}

}  // namespace lp::allocate
