// Internal: deterministic tensor contents, produced in fixed chunks of logical values so that any range can
// be generated independently (parallel, and streamed to disk without holding the tensor).
#pragma once
#include <cstdint>

#include "testgen/generate.h"

namespace lp::testgen {

inline constexpr uint64_t kChunkValues = uint64_t{1} << 16;  // a multiple of the MXFP4 block (32)

uint64_t logical_values(const TensorPlan& t);  // values before packing (MXFP4: 2 per block byte, 32 per scale)
uint64_t chunk_count(const TensorPlan& t);
uint64_t chunk_byte_offset(const TensorPlan& t, uint64_t chunk);  // where chunk starts in the stored bytes

// Writes chunks [first, first + count) to `out` (which points at chunk `first`'s bytes). Parallel (OpenMP).
void fill_chunks(const TensorPlan& t, uint64_t seed, uint64_t first, uint64_t count, uint8_t* out);

}  // namespace lp::testgen
