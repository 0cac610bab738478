// The engine's matmul is the kernels module (Highway SIMD, runtime dispatch, activations quantized to the
// weight type's dot partner as ggml does); this file only adapts the engine's Weight views to it and hosts
// the calibration hook.
#include "engine/matmul.h"

#include <utility>

#include "core/error.h"
#include "kernels/matmul.h"
#include "quant/quantize.h"

namespace lp::engine {
namespace {

ActivationObserver& activation_observer() {
  static ActivationObserver observer;
  return observer;
}

}  // namespace

void set_activation_observer(ActivationObserver observer) { activation_observer() = std::move(observer); }

void matmul(const Weight& W, const float* x, int n_tokens, float* y, int threads) {
  if (const auto& observe = activation_observer()) observe(W.t->name, x, n_tokens, W.cols());
  kernels::matmul(W.type(), W.t->data, W.rows(), W.cols(), x, n_tokens, y, threads);
}

void matmul_rows(const Weight& W, int64_t row_begin, int64_t row_end, const float* x, int n_tokens, float* y, int threads) {
  if (row_end <= row_begin) return;
  kernels::matmul_strided(W.type(), W.row(row_begin), row_end - row_begin, W.cols(), x, n_tokens, y + row_begin,
                          W.rows(), threads);
}

void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t n) {
  if (!quant::can_dequantize(type)) fail("engine: cannot dequantize tensor type {}", ggml_type_name(type));
  quant::dequantize_row(type, src, dst, n);
}

bool matmul_supports(GgmlType type) { return kernels::matmul_supported(type); }

bool engine_supports_type(GgmlType type) { return matmul_supports(type) && quant::can_dequantize(type); }

}  // namespace lp::engine
