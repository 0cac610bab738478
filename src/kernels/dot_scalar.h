// Portable integer dot products of one weight row with one quantized activation row, one per
// weight type (ggml's "generic" math). They serve the no-SIMD dispatch target and are the exact
// integer reference the SIMD kernels are tested against.
#pragma once
#include <cstddef>
#include <cstdint>

#include "core/ggml_type.h"

namespace lp::kernels {

// w: one weight row of n elements; xq: the activation row in activation_type(wtype) layout
// (float for F32/F16/BF16).
using RowDotFn = float (*)(const void* w, const void* xq, int64_t n);

// Four activation rows at once (x_stride bytes apart), out[0..3]; same results as four RowDotFn
// calls up to float summation order. Only some types have one (prefill fast path). For q8_0
// activations, xd holds each token's block scales as floats (n/32 per token, token t at
// xd + t*n/32), converted once per call instead of once per weight row; other formats ignore it.
using RowDot4Fn = void (*)(const void* w, const void* xq, size_t x_stride, const float* xd, int64_t n, float* out);

// nullptr if wtype has no kernel.
RowDotFn scalar_row_dot(GgmlType wtype);

}  // namespace lp::kernels
