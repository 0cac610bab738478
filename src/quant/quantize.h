// Quantize / dequantize entry points for every ggml type we write, dispatching on GgmlType.
// Layouts are ggml's (quant/blocks.h); results are bit-identical to ggml's reference quantizers
// where ggml's are deterministic (tests compare against llama.cpp through its own loader).
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/ggml_type.h"

namespace lp::quant {

// True if we can produce this type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL, IQ4_XS, MXFP4).
bool can_quantize(GgmlType type);
bool can_dequantize(GgmlType type);

// Quantizes `nrows` rows of `ncols` floats (row-major) into dst, which must hold
// nrows * ggml_row_bytes(type, ncols) bytes. `importance` (may be nullptr) is a per-column weight
// vector of length ncols (an imatrix row): the scale search minimises sum_i importance[i]*err_i^2.
// Throws lp::Error if ncols is not a multiple of the block size. Returns bytes written.
size_t quantize(GgmlType type, const float* src, void* dst, int64_t nrows, int64_t ncols, const float* importance = nullptr);

// Dequantizes n elements (a multiple of the block size) of one contiguous row.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

}  // namespace lp::quant
