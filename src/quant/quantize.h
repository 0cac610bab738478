// Quantize / dequantize entry points for every ggml type we write, dispatching on GgmlType.
// Layouts are ggml's (quant/blocks.h); results are bit-identical to ggml's reference quantizers
// where ggml's are deterministic (tests compare against llama.cpp through its own loader).
// Typed per-block-struct functions live in quant/rows.h, MXFP4 checkpoint conversion in quant/mxfp4.h,
// MLX affine quantization in quant/mlx_affine.h, error metrics in quant/metrics.h.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/ggml_type.h"

namespace lp::quant {

// True if we can produce this type (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K..Q6_K, IQ4_NL, IQ4_XS, MXFP4,
// and the i-quants IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S).
bool can_quantize(GgmlType type);
// can_quantize types plus the activation formats Q8_1 and Q8_K.
bool can_dequantize(GgmlType type);

// Whether `quantize` uses the importance vector for this type (ggml ignores it for F32/F16/BF16/Q8_0/MXFP4).
bool uses_importance(GgmlType type);

// Whether quantize() refuses to run without importance (IQ2_XXS, IQ2_XS, IQ1_S: ggml_quantize_requires_imatrix).
bool requires_importance(GgmlType type);

// Quantizes `nrows` rows of `ncols` floats (row-major) into dst, which must hold
// nrows * ggml_row_bytes(type, ncols) bytes. `importance` (may be nullptr) is a per-column weight
// vector of length ncols (an imatrix row): the scale search minimises sum_i importance[i]*err_i^2.
// Same algorithm as ggml's quantize_<type>() (what llama-quantize runs), bit for bit.
// Throws lp::Error if ncols is not a multiple of the block size. Returns bytes written.
size_t quantize(GgmlType type, const float* src, void* dst, int64_t nrows, int64_t ncols, const float* importance = nullptr);

// As quantize(), rows split across OpenMP threads (nthreads <= 0: OpenMP's default). Output is identical
// to quantize() since every row is quantized independently.
size_t quantize_parallel(GgmlType type, const float* src, void* dst, int64_t nrows, int64_t ncols,
                         const float* importance = nullptr, int nthreads = 0);

// Dequantizes n elements (a multiple of the block size) of one contiguous row.
void dequantize_row(GgmlType type, const void* src, float* dst, int64_t n);

// Dequantizes nrows rows of ncols values (rows ggml_row_bytes(type, ncols) apart) into dst[nrows*ncols],
// rows split across OpenMP threads.
void dequantize(GgmlType type, const void* src, float* dst, int64_t nrows, int64_t ncols);

// The type to use when `wanted` cannot hold rows of `ncols` values (ncols % block size != 0).
// Returns `wanted` itself when it fits. Mirrors llama.cpp's tensor_type_fallback (llama-quant.cpp):
//   IQ4_XS            -> IQ4_NL
//   IQ1_*, IQ2_*, IQ3_* -> IQ4_NL
//   Q2_K, Q3_K        -> Q4_0
//   Q4_K              -> Q5_0
//   Q5_K              -> Q5_1
//   Q6_K              -> Q8_0
//   and whenever that fallback (or a 32-block type) still does not divide ncols -> F16.
GgmlType fallback_type(GgmlType wanted, int64_t ncols);

}  // namespace lp::quant
