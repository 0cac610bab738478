// MLX affine matmul: y = Σ_g scale_g·Σ q·x + Σ_g bias_g·Σ x. The SIMD kernel handles 4 and 8 bits
// (nearly every mlx-lm checkpoint); 2/3/5/6 bits read the packed bit stream in portable code.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <vector>

#include "core/error.h"
#include "kernels/dispatch.h"
#include "kernels/matmul.h"

namespace lp::kernels {
namespace {

// Code i of a little-endian bit stream of `bits`-bit values (rows are whole uint32 words, so an
// 8-byte read from the containing byte can run past the row end: read bytewise near it).
inline uint32_t stream_code(const uint8_t* row, int64_t row_bytes, int64_t i, int bits) {
  const int64_t bit = i * bits, byte = bit / 8;
  uint32_t v = 0;
  const int64_t avail = std::min<int64_t>(4, row_bytes - byte);
  std::memcpy(&v, row + byte, static_cast<size_t>(avail));
  return (v >> (bit % 8)) & ((1u << bits) - 1);
}

float generic_scaled_code_dot(const uint8_t* row, int64_t row_bytes, const float* scales, const float* x, int64_t cols,
                              int group_size, int bits) {
  float total = 0;
  for (int64_t g = 0; g < cols / group_size; ++g) {
    float s = 0;
    for (int64_t e = g * group_size; e < (g + 1) * group_size; ++e) s += static_cast<float>(stream_code(row, row_bytes, e, bits)) * x[e];
    total += scales[g] * s;
  }
  return total;
}

// 4-bit: per 16-element chunk, even elements then odd ones (see dot_mlx-inl.h).
void prepare_x(const float* x, int64_t cols, int bits, float* xp) {
  if (bits != 4) {
    std::memcpy(xp, x, static_cast<size_t>(cols) * sizeof(float));
    return;
  }
  for (int64_t c = 0; c < cols; c += 16) {
    for (int k = 0; k < 8; ++k) {
      xp[c + k] = x[c + 2 * k];
      xp[c + 8 + k] = x[c + 2 * k + 1];
    }
  }
}

}  // namespace

void matmul_mlx(const MlxWeights& w, int64_t rows, int64_t cols, const float* x, int64_t n_tokens, float* y,
                int threads) {
  const bool bits_ok = w.bits == 2 || w.bits == 3 || w.bits == 4 || w.bits == 5 || w.bits == 6 || w.bits == 8;
  const bool group_ok = w.group_size == 32 || w.group_size == 64 || w.group_size == 128;
  if (!bits_ok || !group_ok) lp::fail("matmul_mlx: unsupported bits {} / group_size {}", w.bits, w.group_size);
  if (cols <= 0 || cols % w.group_size != 0) lp::fail("matmul_mlx: cols {} is not a multiple of group_size {}", cols, w.group_size);
  if (rows <= 0 || n_tokens <= 0) return;
  threads = threads > 0 ? threads : omp_get_max_threads();
  const int64_t groups = cols / w.group_size;
  const int64_t row_bytes = cols * w.bits / 8;
  const bool simd = w.bits == 4 || w.bits == 8;
  // Per token: prepared x and the per-group sums of x that the biases multiply.
  std::vector<float> xp(static_cast<size_t>(n_tokens * cols)), xsum(static_cast<size_t>(n_tokens * groups));
  for (int64_t t = 0; t < n_tokens; ++t) {
    prepare_x(x + t * cols, cols, simd ? w.bits : 0, xp.data() + t * cols);
    for (int64_t g = 0; g < groups; ++g) {
      float s = 0;
      for (int64_t e = 0; e < w.group_size; ++e) s += x[t * cols + g * w.group_size + e];
      xsum[t * groups + g] = s;
    }
  }
  const auto* packed = reinterpret_cast<const uint8_t*>(w.packed);
#pragma omp parallel for num_threads(threads) schedule(static) if (threads > 1 && rows > 16)
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* row = packed + r * row_bytes;
    const float* sc = w.scales + r * groups;
    const float* bi = w.biases + r * groups;
    for (int64_t t = 0; t < n_tokens; ++t) {
      const float* xt = xp.data() + t * cols;
      float v = simd ? detail::mlx_scaled_code_dot(row, sc, xt, cols, w.group_size, w.bits)
                     : generic_scaled_code_dot(row, row_bytes, sc, xt, cols, w.group_size, w.bits);
      for (int64_t g = 0; g < groups; ++g) v += bi[g] * xsum[t * groups + g];
      y[t * rows + r] = v;
    }
  }
}

}  // namespace lp::kernels
