// Scalar reference matmuls: dequantize each weight row with the quant module (an implementation
// independent of the kernels), then dot in double precision against unquantized x.
#include <vector>

#include "core/error.h"
#include "kernels/matmul.h"
#include "quant/mlx_affine.h"
#include "quant/quantize.h"

namespace lp::kernels {

namespace {
void float_matmul(const float* Wf, int64_t rows, int64_t cols, const float* x, int64_t n_tokens, float* y, int64_t r) {
  for (int64_t t = 0; t < n_tokens; ++t) {
    double s = 0;
    for (int64_t c = 0; c < cols; ++c) s += static_cast<double>(Wf[c]) * x[t * cols + c];
    y[t * rows + r] = static_cast<float>(s);
  }
}
}  // namespace

void matmul_reference(GgmlType wtype, const void* W, int64_t rows, int64_t cols, const float* x, int64_t n_tokens,
                      float* y, int threads) {
  if (!matmul_supported(wtype)) lp::fail("matmul_reference: no kernel for weight type {}", ggml_type_name(wtype));
  if (cols <= 0 || cols % ggml_traits(wtype).block_size != 0) lp::fail("matmul_reference: bad cols {}", cols);
  const size_t row_bytes = ggml_row_bytes(wtype, static_cast<uint64_t>(cols));
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
  {
    std::vector<float> row(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      quant::dequantize_row(wtype, static_cast<const uint8_t*>(W) + r * row_bytes, row.data(), cols);
      float_matmul(row.data(), rows, cols, x, n_tokens, y, r);
    }
  }
}

void matmul_mlx_reference(const MlxWeights& w, int64_t rows, int64_t cols, const float* x, int64_t n_tokens, float* y,
                          int threads) {
  if (!quant::mlx_supported(w.bits, w.group_size) || cols % w.group_size != 0) {
    lp::fail("matmul_mlx_reference: unsupported bits {} / group_size {} / cols {}", w.bits, w.group_size, cols);
  }
  const int64_t words = cols * w.bits / 32, groups = cols / w.group_size;
#pragma omp parallel num_threads(threads > 0 ? threads : 1)
  {
    std::vector<float> row(static_cast<size_t>(cols));
#pragma omp for schedule(static)
    for (int64_t r = 0; r < rows; ++r) {
      quant::mlx_dequantize(w.packed + r * words, w.scales + r * groups, w.biases + r * groups, 1, cols, w.bits,
                            w.group_size, row.data());
      float_matmul(row.data(), rows, cols, x, n_tokens, y, r);
    }
  }
}

}  // namespace lp::kernels
