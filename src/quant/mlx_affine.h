// MLX affine quantization, exactly as `mx.quantize(w, group_size, bits)` (mode "affine") stores it and
// mlx-lm writes it to safetensors: for a weight [rows, cols]
//   packed  U32  [rows, cols*bits/32]   codes q in [0, 2^bits-1]
//   scales  F16/BF16 (the weight's dtype) [rows, cols/group_size]
//   biases  same dtype and shape          w ~ scale*q + bias
// Packing: each row is one little-endian bit stream, element i occupying bits [i*bits, (i+1)*bits)
// (LSB first). For bits 2/4/8 that is "element k of a word at bit k*bits"; for 3/5/6 MLX writes
// 8/8/4-element packs of 3/5/3 bytes, which is the same stream, so values straddle u32 words
// (e.g. 3-bit element 10 uses bits 30..32: two bits of word 0, one of word 1).
//
// Scale/bias rule (MLX's affine_quantize kernels, mlx/backend/{metal/kernels/quantized.h,cpu/quantized.cpp}):
//   n_bins = 2^bits - 1
//   w_min, w_max over the group (Metal starts w_max at 0, so w_max >= 0; the CPU backend does not)
//   mask  = |w_min| > |w_max|
//   scale = max((w_max - w_min) / n_bins, 1e-7), negated unless mask
//   edge  = mask ? w_min : w_max          (the larger-magnitude end)
//   q0    = round(edge / scale)
//   if q0 != 0: scale = edge / q0, bias = edge   (edge exactly representable, code 0)
//   else:       bias = 0
//   q = clamp(round((w - bias) / scale), 0, n_bins)
// Codes are computed from the f32 scale/bias; only the stored scale/bias are rounded to the dtype.
// Metal rounds half away from zero (metal::round); the CPU backend uses rint (half to even).
// mlx-lm conversions run on the GPU on Apple silicon, so kMetal is the default.
#pragma once
#include <cstdint>
#include <vector>

namespace lp::quant {

enum class MlxBackend { kMetal, kCpu };
// dtype the scales/biases will be stored in; the returned floats are rounded to it so that
// mlx_dequantize reproduces what MLX computes from the file. kF32 = no rounding.
enum class MlxParamDtype { kF32, kF16, kBF16 };

struct MlxQuantOptions {
  MlxBackend backend = MlxBackend::kMetal;
  MlxParamDtype param_dtype = MlxParamDtype::kF32;
};

bool mlx_supported(int bits, int group_size);  // bits 2,3,4,5,6,8; group 32,64,128
inline int64_t mlx_packed_cols(int64_t cols, int bits) { return cols * bits / 32; }

// Throws lp::Error on unsupported bits/group_size or cols % group_size != 0.
// packed: rows*cols*bits/32 words; scales/biases: rows*cols/group_size values.
void mlx_quantize(const float* w, int64_t rows, int64_t cols, int bits, int group_size, std::vector<uint32_t>& packed,
                  std::vector<float>& scales, std::vector<float>& biases);
void mlx_quantize(const float* w, int64_t rows, int64_t cols, int bits, int group_size, std::vector<uint32_t>& packed,
                  std::vector<float>& scales, std::vector<float>& biases, const MlxQuantOptions& options);

// out[rows*cols] = scale * q + bias (f32 arithmetic).
void mlx_dequantize(const uint32_t* packed, const float* scales, const float* biases, int64_t rows, int64_t cols,
                    int bits, int group_size, float* out);

// Code of element i in a packed row (bit stream access; for tests and readers).
uint32_t mlx_get_code(const uint32_t* row, int64_t i, int bits);
void mlx_set_code(uint32_t* row, int64_t i, int bits, uint32_t code);  // row zero-initialised

}  // namespace lp::quant
