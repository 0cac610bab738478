// Which ggml types the allocator may give one tensor: the quality ladder Q2_K .. Q8_0 plus IQ4_XS, each
// replaced by llama.cpp's row fallback when the row width is not a multiple of its block (Q4_K -> Q5_0 ...),
// kept only if we can write it and our engine (and llama.cpp) can read it; duplicates removed, sorted by size.
#pragma once
#include <cstdint>
#include <vector>

#include "core/ggml_type.h"

namespace lp::allocate {

// The ladder before fallbacks, smallest first.
const std::vector<GgmlType>& candidate_ladder();

std::vector<GgmlType> candidate_types(int64_t ncols);

}  // namespace lp::allocate
