// The engine's one matrix-vector(s) entry point: y[t][r] = dot(W row r, x[t]) for n_tokens inputs.
// Activations are converted once per call into the weight type's dot partner (ggml's vec_dot_type:
// F16 for F16, Q8_0 for the 32-blocks, Q8_K for the K-quants) so results track llama.cpp's CPU path.
// The work is done by lp::kernels (src/kernels), shared with the benchmarks.
#pragma once
#include <cstdint>
#include <functional>
#include <string>

#include "core/ggml_type.h"
#include "engine/model.h"
#include "engine/observers.h"

namespace lp::engine {

// x: n_tokens rows of W.cols() floats; y: n_tokens rows of W.rows() floats.
void matmul(const Weight& W, const float* x, int n_tokens, float* y, int threads);

// Same, restricted to weight rows [row_begin, row_end) (y rows are still W.rows() wide).
void matmul_rows(const Weight& W, int64_t row_begin, int64_t row_end, const float* x, int n_tokens, float* y, int threads);

// Expert `expert` of a stacked expert weight [cols, expert_rows, n_expert]: y (n_tokens rows of
// W.expert_rows() floats) = slice * x. Reads only that expert's rows; reports the event per expert.
void matmul_expert(const Weight& W, int expert, const float* x, int n_tokens, float* y, int threads);

// Dequantizes one row of W into dst (W.cols() floats): embeddings and tests.
void dequantize_row(GgmlType type, const uint8_t* src, float* dst, int64_t n);

// Row r of W as floats (W.cols() of them), for any weight the engine binds (GGUF types and MLX affine).
void weight_row(const Weight& W, int64_t r, float* dst);

// matmul() and matmul_expert() report their input to the activation observer in scope (engine/observers.h).

// Weight types the kernels can multiply.
bool matmul_supports(GgmlType type);

}  // namespace lp::engine
