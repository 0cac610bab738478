// Error metrics for comparing a tensor with its quantized reconstruction.
#pragma once
#include <cstdint>

#include "core/ggml_type.h"

namespace lp::quant {

// sqrt(mean((a-b)^2)) over n values (0 for n == 0).
double rmse(const float* a, const float* b, int64_t n);

// rmse(ref, approx) / sqrt(mean(ref^2)); 0 when ref is all zero and approx equals it.
double relative_rmse(const float* ref, const float* approx, int64_t n);

// Importance-weighted mean squared error of a [nrows, ncols] matrix, with a per-column importance
// (imatrix: mean squared activation of each input channel). This is, up to a constant, the expected
// squared error of the layer's OUTPUT: E[(x.(w - w'))^2] ~ sum_c imp[c] (w_c - w'_c)^2 for
// decorrelated inputs. Normalised by nrows*sum(imp) so it is comparable to an unweighted MSE.
// importance == nullptr gives the plain MSE.
double weighted_mse(const float* ref, const float* approx, int64_t nrows, int64_t ncols, const float* importance);

// weighted_mse divided by the equally weighted mean square of ref (scale-free, like relative_rmse^2).
double relative_weighted_mse(const float* ref, const float* approx, int64_t nrows, int64_t ncols,
                             const float* importance);

struct QuantError {
  double rmse = 0;           // plain RMSE
  double relative_rmse = 0;  // RMSE / RMS(ref)
  double weighted_mse = 0;   // importance-weighted MSE (plain MSE without importance)
  double relative_weighted_mse = 0;
};

// Quantizes [nrows, ncols] to `type` (using `importance` in the scale search like `quantize`),
// dequantizes, and measures the error. Throws like quantize() on incompatible ncols.
QuantError measure_quant_error(GgmlType type, const float* src, int64_t nrows, int64_t ncols,
                               const float* importance = nullptr);

}  // namespace lp::quant
