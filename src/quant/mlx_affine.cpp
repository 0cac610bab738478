#include "quant/mlx_affine.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/error.h"
#include "core/fp16.h"

namespace lp::quant {
namespace {

float round_param(float v, MlxParamDtype dtype) {
  switch (dtype) {
    case MlxParamDtype::kF16: return f16_to_f32(f32_to_f16(v));
    case MlxParamDtype::kBF16: return bf16_to_f32(f32_to_bf16(v));
    default: return v;
  }
}

}  // namespace

bool mlx_supported(int bits, int group_size) {
  const bool bits_ok = bits == 2 || bits == 3 || bits == 4 || bits == 5 || bits == 6 || bits == 8;
  const bool group_ok = group_size == 32 || group_size == 64 || group_size == 128;
  return bits_ok && group_ok;
}

uint32_t mlx_get_code(const uint32_t* row, int64_t i, int bits) {
  const int64_t bit = i * bits;
  const int64_t word = bit / 32;
  const int shift = static_cast<int>(bit % 32);
  uint64_t v = row[word] >> shift;
  if (shift + bits > 32) v |= static_cast<uint64_t>(row[word + 1]) << (32 - shift);
  return static_cast<uint32_t>(v & ((1u << bits) - 1));
}

void mlx_set_code(uint32_t* row, int64_t i, int bits, uint32_t code) {
  const int64_t bit = i * bits;
  const int64_t word = bit / 32;
  const int shift = static_cast<int>(bit % 32);
  row[word] |= code << shift;
  if (shift + bits > 32) row[word + 1] |= code >> (32 - shift);
}

void mlx_quantize(const float* w, int64_t rows, int64_t cols, int bits, int group_size, std::vector<uint32_t>& packed,
                  std::vector<float>& scales, std::vector<float>& biases) {
  mlx_quantize(w, rows, cols, bits, group_size, packed, scales, biases, MlxQuantOptions{});
}

void mlx_quantize(const float* w, int64_t rows, int64_t cols, int bits, int group_size, std::vector<uint32_t>& packed,
                  std::vector<float>& scales, std::vector<float>& biases, const MlxQuantOptions& options) {
  if (!mlx_supported(bits, group_size))
    fail("mlx_quantize: unsupported bits {} / group_size {} (bits 2,3,4,5,6,8; group 32,64,128)", bits, group_size);
  if (cols % group_size != 0) fail("mlx_quantize: cols {} is not a multiple of group_size {}", cols, group_size);
  const bool metal = options.backend == MlxBackend::kMetal;
  const float n_bins = static_cast<float>((1 << bits) - 1);
  const float eps = 1e-7f;
  const int64_t words_per_row = mlx_packed_cols(cols, bits);
  const int64_t groups_per_row = cols / group_size;
  packed.assign(static_cast<size_t>(rows * words_per_row), 0u);
  scales.resize(static_cast<size_t>(rows * groups_per_row));
  biases.resize(static_cast<size_t>(rows * groups_per_row));
  auto round_fn = [metal](float v) { return metal ? std::round(v) : std::rint(v); };

  for (int64_t r = 0; r < rows; ++r) {
    uint32_t* prow = packed.data() + r * words_per_row;
    for (int64_t g = 0; g < groups_per_row; ++g) {
      const float* x = w + r * cols + g * group_size;
      float w_min = std::numeric_limits<float>::infinity();
      float w_max = metal ? 0.0f : -std::numeric_limits<float>::infinity();
      for (int j = 0; j < group_size; ++j) {
        w_max = std::max(w_max, x[j]);
        w_min = std::min(w_min, x[j]);
      }
      const bool mask = std::fabs(w_min) > std::fabs(w_max);
      float scale = std::max((w_max - w_min) / n_bins, eps);
      scale = mask ? scale : -scale;
      const float edge = mask ? w_min : w_max;
      const float q0 = round_fn(edge / scale);
      float bias = 0;
      if (q0 != 0) {
        scale = edge / q0;
        bias = edge;
      }
      for (int j = 0; j < group_size; ++j) {
        float q = round_fn((x[j] - bias) / scale);
        q = std::min(std::max(q, 0.0f), n_bins);
        mlx_set_code(prow, g * group_size + j, bits, static_cast<uint32_t>(q));
      }
      scales[static_cast<size_t>(r * groups_per_row + g)] = round_param(scale, options.param_dtype);
      biases[static_cast<size_t>(r * groups_per_row + g)] = round_param(bias, options.param_dtype);
    }
  }
}

void mlx_dequantize(const uint32_t* packed, const float* scales, const float* biases, int64_t rows, int64_t cols,
                    int bits, int group_size, float* out) {
  if (!mlx_supported(bits, group_size))
    fail("mlx_dequantize: unsupported bits {} / group_size {}", bits, group_size);
  if (cols % group_size != 0) fail("mlx_dequantize: cols {} is not a multiple of group_size {}", cols, group_size);
  const int64_t words_per_row = mlx_packed_cols(cols, bits);
  const int64_t groups_per_row = cols / group_size;
  for (int64_t r = 0; r < rows; ++r) {
    const uint32_t* prow = packed + r * words_per_row;
    for (int64_t c = 0; c < cols; ++c) {
      const int64_t g = r * groups_per_row + c / group_size;
      out[r * cols + c] = scales[g] * static_cast<float>(mlx_get_code(prow, c, bits)) + biases[g];
    }
  }
}

}  // namespace lp::quant
