// CPU matrix multiplication against weights in every ggml storage type (and MLX affine-quantized
// weights). This is the engine's hot path: decode (n_tokens == 1) streams every weight row once,
// prefill tiles tokens so each weight row is read once per tile.
//
// Layout conventions (all row-major):
//   W: `rows` rows of `cols` elements in ggml type `wtype`; row r starts at
//      (const uint8_t*)W + r * ggml_row_bytes(wtype, cols).
//   x: n_tokens × cols float32 (token t at x + t*cols).
//   y: n_tokens × rows float32 (token t at y + t*rows), overwritten.
//   y[t][r] = Σ_c x[t][c] · W[r][c]
//
// Quantized weights use integer dot products: x is quantized once per call to the type's activation
// format (Q8_0 for Q8_0/Q4_0/Q5_0/IQ4_NL/MXFP4, Q8_1 for Q4_1/Q5_1, Q8_K for the K-quants and
// IQ4_XS), exactly as ggml does, so results match llama.cpp up to float summation order.
// F32/F16/BF16 weights use float FMA on unquantized x.
//
// threads: number of OpenMP threads (<= 0: omp_get_max_threads()). Calls are thread-safe
// (no shared mutable state besides a thread-local scratch buffer).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "core/ggml_type.h"

namespace lp::kernels {

// True if matmul() accepts weights of this type.
bool matmul_supported(GgmlType wtype);

// Fast path (SIMD, runtime ISA dispatch). Throws lp::Error for unsupported types or when cols is
// not a multiple of the type's block size.
void matmul(GgmlType wtype, const void* W, int64_t rows, int64_t cols, const float* x, int64_t n_tokens,
            float* y, int threads = 0);

// As matmul(), but token t's outputs go to y + t*y_stride (y_stride >= rows), so a slice of weight
// rows (W advanced to the first row of the slice) can write into a wider output matrix.
void matmul_strided(GgmlType wtype, const void* W, int64_t rows, int64_t cols, const float* x, int64_t n_tokens,
                    float* y, int64_t y_stride, int threads = 0);

// Scalar reference: dequantizes each weight row (quant::dequantize_row) and takes float dots with
// unquantized x (double accumulation). Slow; for tests and debugging only.
void matmul_reference(GgmlType wtype, const void* W, int64_t rows, int64_t cols, const float* x,
                      int64_t n_tokens, float* y, int threads = 0);

// MLX affine-quantized weights (mlx-lm `nn.QuantizedLinear`): each row holds `cols` values of `bits`
// bits packed little-endian into uint32 words (row stride = cols*bits/32 words; bits in {2,3,4,5,6,8}
// — 3/5/6-bit values straddle words exactly like mlx's packing), plus per-group float scale and bias
// (rows × cols/group_size each): w = scale * q + bias. group_size in {32, 64, 128}.
struct MlxWeights {
  const uint32_t* packed = nullptr;  // rows × (cols*bits/32)
  const float* scales = nullptr;     // rows × (cols/group_size)
  const float* biases = nullptr;     // rows × (cols/group_size)
  int bits = 4;
  int group_size = 64;
};
void matmul_mlx(const MlxWeights& w, int64_t rows, int64_t cols, const float* x, int64_t n_tokens, float* y,
                int threads = 0);
void matmul_mlx_reference(const MlxWeights& w, int64_t rows, int64_t cols, const float* x, int64_t n_tokens,
                          float* y, int threads = 0);

// The activation format matmul() quantizes x to for `wtype` (F32 for float weight types).
GgmlType activation_type(GgmlType wtype);

// Name of the SIMD target the dispatcher picked on this CPU ("AVX3_DL", "AVX2", "SSE4", "EMU128", ...).
std::string active_target();
// Every target compiled into this binary that this CPU supports (for tests and `bench` output); only
// the forced one when the environment variable LP_KERNELS_TARGET names a target (e.g. LP_KERNELS_TARGET=SSE4).
std::vector<std::string> available_targets();

}  // namespace lp::kernels
