// The engine's matmul is the kernels module (Highway SIMD, runtime dispatch, activations quantized to the
// weight type's dot partner as ggml does); this file only adapts the engine's Weight views to it and hosts
// the observers' scope (engine/observers.h).
#include "engine/matmul.h"

#include <algorithm>
#include <utility>
#include <vector>

#include "core/error.h"
#include "kernels/matmul.h"
#include "quant/mlx_affine.h"
#include "quant/quantize.h"

namespace lp::engine {
namespace {

// The observers of the context whose forward pass runs on this thread (engine/observers.h).
thread_local const Observers* t_observers = nullptr;

void report_activation(const Weight& W, int expert, int n_expert, const float* x, int n_tokens) {
  if (const Observers* o = t_observers; o && o->activation) o->activation(ActivationEvent{W.t->name, expert, n_expert, x, n_tokens, W.cols()});
}

}  // namespace

ObserverScope::ObserverScope(const Observers* observers) : previous_(t_observers) { t_observers = observers; }
ObserverScope::~ObserverScope() { t_observers = previous_; }
const Observers* current_observers() { return t_observers; }

void matmul(const Weight& W, const float* x, int n_tokens, float* y, int threads) {
  report_activation(W, 0, 1, x, n_tokens);
  if (W.t->mlx) return kernels::matmul_mlx(*W.t->mlx, W.rows(), W.cols(), x, n_tokens, y, threads);
  kernels::matmul(W.type(), W.t->data, W.rows(), W.cols(), x, n_tokens, y, threads);
}

void matmul_rows(const Weight& W, int64_t row_begin, int64_t row_end, const float* x, int n_tokens, float* y, int threads) {
  if (row_end <= row_begin) return;
  if (W.t->mlx) {
    // matmul_mlx has no output stride: multiply the row range into a scratch block, then scatter.
    const kernels::MlxWeights& m = *W.t->mlx;
    const int64_t words = quant::mlx_packed_cols(W.cols(), m.bits), groups = W.cols() / m.group_size, n = row_end - row_begin;
    const kernels::MlxWeights sub{m.packed + row_begin * words, m.scales + row_begin * groups, m.biases + row_begin * groups,
                                  m.bits, m.group_size};
    std::vector<float> tmp(static_cast<size_t>(n) * n_tokens);
    kernels::matmul_mlx(sub, n, W.cols(), x, n_tokens, tmp.data(), threads);
    for (int t = 0; t < n_tokens; ++t)
      std::copy(tmp.begin() + t * n, tmp.begin() + (t + 1) * n, y + static_cast<int64_t>(t) * W.rows() + row_begin);
    return;
  }
  kernels::matmul_strided(W.type(), W.row(row_begin), row_end - row_begin, W.cols(), x, n_tokens, y + row_begin,
                          W.rows(), threads);
}

void matmul_expert(const Weight& W, int expert, const float* x, int n_tokens, float* y, int threads) {
  const int64_t rows = W.expert_rows(), first = int64_t{expert} * rows;
  report_activation(W, expert, static_cast<int>(W.n_experts()), x, n_tokens);
  if (W.t->mlx) {
    const kernels::MlxWeights& m = *W.t->mlx;
    const int64_t words = quant::mlx_packed_cols(W.cols(), m.bits), groups = W.cols() / m.group_size;
    const kernels::MlxWeights sub{m.packed + first * words, m.scales + first * groups, m.biases + first * groups, m.bits, m.group_size};
    return kernels::matmul_mlx(sub, rows, W.cols(), x, n_tokens, y, threads);
  }
  kernels::matmul(W.type(), W.row(first), rows, W.cols(), x, n_tokens, y, threads);
}

void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t n) {
  if (!quant::can_dequantize(type)) fail("engine: cannot dequantize tensor type {}", ggml_type_name(type));
  quant::dequantize_row(type, src, dst, n);
}

void weight_row(const Weight& W, int64_t r, float* dst) {
  if (const auto& m = W.t->mlx) {
    const int64_t words = quant::mlx_packed_cols(W.cols(), m->bits), groups = W.cols() / m->group_size;
    quant::mlx_dequantize(m->packed + r * words, m->scales + r * groups, m->biases + r * groups, 1, W.cols(), m->bits,
                          m->group_size, dst);
    return;
  }
  dequantize_row(W.type(), W.row(r), dst, W.cols());
}

bool matmul_supports(GgmlType type) { return kernels::matmul_supported(type); }

bool engine_supports_type(GgmlType type) { return matmul_supports(type) && quant::can_dequantize(type); }

}  // namespace lp::engine
