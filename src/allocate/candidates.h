// Which ggml types the allocator may give one tensor: the quality ladder Q2_K .. Q8_0 plus IQ4_XS and, for
// tensors with importance data (llama.cpp will not make them without), the i-quants IQ2_XXS, IQ2_XS, IQ2_S,
// IQ3_XXS and IQ3_S, each
// replaced by llama.cpp's row fallback when the row width is not a multiple of its block (Q4_K -> Q5_0 ...),
// kept only if we can write it and our engine (and llama.cpp) can read it; duplicates removed, sorted by size.
#pragma once
#include <cstdint>
#include <vector>

#include "core/ggml_type.h"

namespace lp::allocate {

// The ladder before fallbacks, smallest first (with_importance: the i-quants included).
const std::vector<GgmlType>& candidate_ladder(bool with_importance = false);

std::vector<GgmlType> candidate_types(int64_t ncols, bool with_importance = false);

}  // namespace lp::allocate
