#include "quant/metrics.h"

#include <cmath>
#include <vector>

#include "quant/quantize.h"

namespace lp::quant {

double rmse(const float* a, const float* b, int64_t n) {
  if (n <= 0) return 0;
  double sum = 0;
  for (int64_t i = 0; i < n; ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    sum += d * d;
  }
  return std::sqrt(sum / n);
}

double relative_rmse(const float* ref, const float* approx, int64_t n) {
  double ref2 = 0;
  for (int64_t i = 0; i < n; ++i) ref2 += static_cast<double>(ref[i]) * ref[i];
  const double e = rmse(ref, approx, n);
  if (ref2 == 0) return e == 0 ? 0 : INFINITY;
  return e / std::sqrt(ref2 / n);
}

double weighted_mse(const float* ref, const float* approx, int64_t nrows, int64_t ncols, const float* importance) {
  if (nrows <= 0 || ncols <= 0) return 0;
  double sum = 0, wsum = 0;
  for (int64_t c = 0; c < ncols; ++c) wsum += importance ? importance[c] : 1.0;
  for (int64_t r = 0; r < nrows; ++r) {
    const float* a = ref + r * ncols;
    const float* b = approx + r * ncols;
    for (int64_t c = 0; c < ncols; ++c) {
      const double d = static_cast<double>(a[c]) - b[c];
      sum += (importance ? importance[c] : 1.0) * d * d;
    }
  }
  if (wsum <= 0) return 0;
  return sum / (wsum * nrows);  // equals the plain MSE when all importances are equal
}

double relative_weighted_mse(const float* ref, const float* approx, int64_t nrows, int64_t ncols,
                             const float* importance) {
  const int64_t n = nrows * ncols;
  double ref2 = 0;
  for (int64_t i = 0; i < n; ++i) ref2 += static_cast<double>(ref[i]) * ref[i];
  const double e = weighted_mse(ref, approx, nrows, ncols, importance);
  if (ref2 == 0) return e == 0 ? 0 : INFINITY;
  return e / (ref2 / n);
}

QuantError measure_quant_error(GgmlType type, const float* src, int64_t nrows, int64_t ncols, const float* importance) {
  const size_t row_bytes = ggml_row_bytes(type, static_cast<uint64_t>(ncols));
  std::vector<uint8_t> q(row_bytes * static_cast<size_t>(nrows));
  quantize(type, src, q.data(), nrows, ncols, importance);
  std::vector<float> back(static_cast<size_t>(nrows * ncols));
  for (int64_t r = 0; r < nrows; ++r) dequantize_row(type, q.data() + r * row_bytes, back.data() + r * ncols, ncols);
  QuantError e;
  const int64_t n = nrows * ncols;
  e.rmse = rmse(src, back.data(), n);
  e.relative_rmse = relative_rmse(src, back.data(), n);
  e.weighted_mse = weighted_mse(src, back.data(), nrows, ncols, importance);
  e.relative_weighted_mse = relative_weighted_mse(src, back.data(), nrows, ncols, importance);
  return e;
}

}  // namespace lp::quant
