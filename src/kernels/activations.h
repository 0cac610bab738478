// Activation quantization: the float input rows of a matmul are converted once per call into the
// 8-bit block format the weight type's integer dot product expects (ggml's q8_0 / q8_1 / q8_K).
#pragma once
#include <cstdint>

#include "core/ggml_type.h"

namespace lp::kernels {

// x: n floats (multiple of the format's block size) -> dst in `act` (Q8_0, Q8_1 or Q8_K) layout.
// Uses the fastest SIMD target of this CPU (results are identical on every target).
void quantize_activations(GgmlType act, const float* x, void* dst, int64_t n);

// Portable scalar versions (reference for the SIMD ones).
void quantize_row_q8_0_scalar(const float* x, void* dst, int64_t n);
void quantize_row_q8_1_scalar(const float* x, void* dst, int64_t n);
void quantize_row_q8_K_scalar(const float* x, void* dst, int64_t n);

}  // namespace lp::kernels
