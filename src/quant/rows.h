// Typed per-row quantize / dequantize functions, one pair per ggml block type (scalar reference code).
// quantize_row_* take `k` floats (a multiple of the block size) and an optional per-column importance
// vector of length k (an imatrix row; nullptr = unweighted). With importance, pass exactly ONE matrix
// row (k = ncols): the legacy types derive a per-row sigma from all k values. They mirror ggml's quantize_<type>()
// chunk functions, i.e. what llama-quantize runs, so the bytes match llama.cpp's files.
// Use quant/quantize.h's type-dispatching API unless you need the block structs directly (kernels).
#pragma once
#include <cstdint>

#include "quant/blocks.h"

namespace lp::quant {

void quantize_row_q4_0(const float* x, block_q4_0* y, int64_t k, const float* importance = nullptr);
void quantize_row_q4_1(const float* x, block_q4_1* y, int64_t k, const float* importance = nullptr);
void quantize_row_q5_0(const float* x, block_q5_0* y, int64_t k, const float* importance = nullptr);
void quantize_row_q5_1(const float* x, block_q5_1* y, int64_t k, const float* importance = nullptr);
void quantize_row_q8_0(const float* x, block_q8_0* y, int64_t k);  // no importance variant in ggml
void quantize_row_q8_1(const float* x, block_q8_1* y, int64_t k);  // activation format (s = d*sum(qs))
void quantize_row_q2_K(const float* x, block_q2_K* y, int64_t k, const float* importance = nullptr);
void quantize_row_q3_K(const float* x, block_q3_K* y, int64_t k, const float* importance = nullptr);
void quantize_row_q4_K(const float* x, block_q4_K* y, int64_t k, const float* importance = nullptr);
void quantize_row_q5_K(const float* x, block_q5_K* y, int64_t k, const float* importance = nullptr);
void quantize_row_q6_K(const float* x, block_q6_K* y, int64_t k, const float* importance = nullptr);
void quantize_row_q8_K(const float* x, block_q8_K* y, int64_t k);  // activation format with bsums
void quantize_row_iq4_nl(const float* x, block_iq4_nl* y, int64_t k, const float* importance = nullptr);
void quantize_row_iq4_xs(const float* x, block_iq4_xs* y, int64_t k, const float* importance = nullptr);
void quantize_row_mxfp4(const float* x, block_mxfp4* y, int64_t k);  // no importance variant in ggml
// i-quants (quant/iq_quants.cpp). IQ2_XXS, IQ2_XS and IQ1_S require importance (lp::Error without it).
void quantize_row_iq2_xxs(const float* x, block_iq2_xxs* y, int64_t k, const float* importance);
void quantize_row_iq2_xs(const float* x, block_iq2_xs* y, int64_t k, const float* importance);
void quantize_row_iq2_s(const float* x, block_iq2_s* y, int64_t k, const float* importance = nullptr);
void quantize_row_iq3_xxs(const float* x, block_iq3_xxs* y, int64_t k, const float* importance = nullptr);
void quantize_row_iq3_s(const float* x, block_iq3_s* y, int64_t k, const float* importance = nullptr);
void quantize_row_iq1_s(const float* x, block_iq1_s* y, int64_t k, const float* importance);
void quantize_row_iq1_m(const float* x, block_iq1_m* y, int64_t k, const float* importance = nullptr);

void dequantize_row_q4_0(const block_q4_0* x, float* y, int64_t k);
void dequantize_row_q4_1(const block_q4_1* x, float* y, int64_t k);
void dequantize_row_q5_0(const block_q5_0* x, float* y, int64_t k);
void dequantize_row_q5_1(const block_q5_1* x, float* y, int64_t k);
void dequantize_row_q8_0(const block_q8_0* x, float* y, int64_t k);
void dequantize_row_q8_1(const block_q8_1* x, float* y, int64_t k);
void dequantize_row_q2_K(const block_q2_K* x, float* y, int64_t k);
void dequantize_row_q3_K(const block_q3_K* x, float* y, int64_t k);
void dequantize_row_q4_K(const block_q4_K* x, float* y, int64_t k);
void dequantize_row_q5_K(const block_q5_K* x, float* y, int64_t k);
void dequantize_row_q6_K(const block_q6_K* x, float* y, int64_t k);
void dequantize_row_q8_K(const block_q8_K* x, float* y, int64_t k);
void dequantize_row_iq4_nl(const block_iq4_nl* x, float* y, int64_t k);
void dequantize_row_iq4_xs(const block_iq4_xs* x, float* y, int64_t k);
void dequantize_row_mxfp4(const block_mxfp4* x, float* y, int64_t k);
void dequantize_row_iq2_xxs(const block_iq2_xxs* x, float* y, int64_t k);
void dequantize_row_iq2_xs(const block_iq2_xs* x, float* y, int64_t k);
void dequantize_row_iq2_s(const block_iq2_s* x, float* y, int64_t k);
void dequantize_row_iq3_xxs(const block_iq3_xxs* x, float* y, int64_t k);
void dequantize_row_iq3_s(const block_iq3_s* x, float* y, int64_t k);
void dequantize_row_iq1_s(const block_iq1_s* x, float* y, int64_t k);
void dequantize_row_iq1_m(const block_iq1_m* x, float* y, int64_t k);

}  // namespace lp::quant
