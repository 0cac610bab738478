#include "quant/quantize.h"

#include <omp.h>

#include <algorithm>
#include <cstring>
#include <exception>

#include "core/error.h"
#include "core/fp16.h"
#include "core/threads.h"
#include "quant/rows.h"

namespace lp::quant {
namespace {

// One row: ncols floats -> ggml_row_bytes(type, ncols) bytes.
void quantize_one_row(GgmlType type, const float* x, void* dst, int64_t n, const float* imp) {
  switch (type) {
    case GgmlType::F32: std::memcpy(dst, x, static_cast<size_t>(n) * sizeof(float)); return;
    case GgmlType::F16: {
      auto* y = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = f32_to_f16(x[i]);
      return;
    }
    case GgmlType::BF16: {
      auto* y = static_cast<uint16_t*>(dst);
      for (int64_t i = 0; i < n; ++i) y[i] = f32_to_bf16(x[i]);
      return;
    }
    case GgmlType::Q4_0: return quantize_row_q4_0(x, static_cast<block_q4_0*>(dst), n, imp);
    case GgmlType::Q4_1: return quantize_row_q4_1(x, static_cast<block_q4_1*>(dst), n, imp);
    case GgmlType::Q5_0: return quantize_row_q5_0(x, static_cast<block_q5_0*>(dst), n, imp);
    case GgmlType::Q5_1: return quantize_row_q5_1(x, static_cast<block_q5_1*>(dst), n, imp);
    case GgmlType::Q8_0: return quantize_row_q8_0(x, static_cast<block_q8_0*>(dst), n);
    case GgmlType::Q2_K: return quantize_row_q2_K(x, static_cast<block_q2_K*>(dst), n, imp);
    case GgmlType::Q3_K: return quantize_row_q3_K(x, static_cast<block_q3_K*>(dst), n, imp);
    case GgmlType::Q4_K: return quantize_row_q4_K(x, static_cast<block_q4_K*>(dst), n, imp);
    case GgmlType::Q5_K: return quantize_row_q5_K(x, static_cast<block_q5_K*>(dst), n, imp);
    case GgmlType::Q6_K: return quantize_row_q6_K(x, static_cast<block_q6_K*>(dst), n, imp);
    case GgmlType::IQ4_NL: return quantize_row_iq4_nl(x, static_cast<block_iq4_nl*>(dst), n, imp);
    case GgmlType::IQ4_XS: return quantize_row_iq4_xs(x, static_cast<block_iq4_xs*>(dst), n, imp);
    case GgmlType::MXFP4: return quantize_row_mxfp4(x, static_cast<block_mxfp4*>(dst), n);
    case GgmlType::IQ2_XXS: return quantize_row_iq2_xxs(x, static_cast<block_iq2_xxs*>(dst), n, imp);
    case GgmlType::IQ2_XS: return quantize_row_iq2_xs(x, static_cast<block_iq2_xs*>(dst), n, imp);
    case GgmlType::IQ2_S: return quantize_row_iq2_s(x, static_cast<block_iq2_s*>(dst), n, imp);
    case GgmlType::IQ3_XXS: return quantize_row_iq3_xxs(x, static_cast<block_iq3_xxs*>(dst), n, imp);
    case GgmlType::IQ3_S: return quantize_row_iq3_s(x, static_cast<block_iq3_s*>(dst), n, imp);
    case GgmlType::IQ1_S: return quantize_row_iq1_s(x, static_cast<block_iq1_s*>(dst), n, imp);
    case GgmlType::IQ1_M: return quantize_row_iq1_m(x, static_cast<block_iq1_m*>(dst), n, imp);
    default: fail("quantize: type {} is not supported", ggml_type_name(type));
  }
}

void check_shape(GgmlType type, int64_t nrows, int64_t ncols) {
  if (!can_quantize(type)) fail("quantize: type {} is not supported", ggml_type_name(type));
  LP_CHECK(nrows >= 0 && ncols >= 0, "quantize: negative shape {}x{}", nrows, ncols);
  const int64_t bs = ggml_traits(type).block_size;
  if (ncols % bs != 0)
    fail("quantize: ncols {} is not a multiple of the {} block size {} (use fallback_type)", ncols,
         ggml_type_name(type), bs);
}

}  // namespace

bool can_quantize(GgmlType type) {
  switch (type) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16:
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1: case GgmlType::Q8_0:
    case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
    case GgmlType::IQ4_NL: case GgmlType::IQ4_XS: case GgmlType::MXFP4:
    case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS: case GgmlType::IQ2_S: case GgmlType::IQ3_XXS: case GgmlType::IQ3_S:
    case GgmlType::IQ1_S: case GgmlType::IQ1_M:
      return true;
    default:
      return false;
  }
}

bool can_dequantize(GgmlType type) {
  return can_quantize(type) || type == GgmlType::Q8_1 || type == GgmlType::Q8_K;
}

bool uses_importance(GgmlType type) {
  switch (type) {
    case GgmlType::Q4_0: case GgmlType::Q4_1: case GgmlType::Q5_0: case GgmlType::Q5_1:
    case GgmlType::Q2_K: case GgmlType::Q3_K: case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
    case GgmlType::IQ4_NL: case GgmlType::IQ4_XS:
    case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS: case GgmlType::IQ2_S: case GgmlType::IQ3_XXS: case GgmlType::IQ3_S:
    case GgmlType::IQ1_S: case GgmlType::IQ1_M:
      return true;
    default:
      return false;
  }
}

bool requires_importance(GgmlType type) {
  return type == GgmlType::IQ2_XXS || type == GgmlType::IQ2_XS || type == GgmlType::IQ1_S;
}

size_t quantize(GgmlType type, const float* src, void* dst, int64_t nrows, int64_t ncols, const float* importance) {
  check_shape(type, nrows, ncols);
  const size_t row_bytes = ggml_row_bytes(type, static_cast<uint64_t>(ncols));
  auto* out = static_cast<uint8_t*>(dst);
  for (int64_t r = 0; r < nrows; ++r) quantize_one_row(type, src + r * ncols, out + r * row_bytes, ncols, importance);
  return row_bytes * static_cast<size_t>(nrows);
}

size_t quantize_parallel(GgmlType type, const float* src, void* dst, int64_t nrows, int64_t ncols,
                         const float* importance, int nthreads) {
  check_shape(type, nrows, ncols);
  const size_t row_bytes = ggml_row_bytes(type, static_cast<uint64_t>(ncols));
  auto* out = static_cast<uint8_t*>(dst);
  nthreads = thread_count(nthreads);
  nthreads = static_cast<int>(std::min<int64_t>(nthreads, std::max<int64_t>(nrows, 1)));
  std::exception_ptr error;
#pragma omp parallel for num_threads(nthreads) schedule(dynamic, 16)
  for (int64_t r = 0; r < nrows; ++r) {
    try {
      quantize_one_row(type, src + r * ncols, out + r * row_bytes, ncols, importance);
    } catch (...) {
#pragma omp critical
      error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
  return row_bytes * static_cast<size_t>(nrows);
}

void dequantize_row(GgmlType type, const void* src, float* y, int64_t n) {
  if (!can_dequantize(type)) fail("dequantize: type {} is not supported", ggml_type_name(type));
  const int64_t bs = ggml_traits(type).block_size;
  if (n % bs != 0) fail("dequantize: {} values is not a multiple of the {} block size {}", n, ggml_type_name(type), bs);
  switch (type) {
    case GgmlType::F32: std::memcpy(y, src, static_cast<size_t>(n) * sizeof(float)); return;
    case GgmlType::F16: {
      const auto* x = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(x[i]);
      return;
    }
    case GgmlType::BF16: {
      const auto* x = static_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(x[i]);
      return;
    }
    case GgmlType::Q4_0: return dequantize_row_q4_0(static_cast<const block_q4_0*>(src), y, n);
    case GgmlType::Q4_1: return dequantize_row_q4_1(static_cast<const block_q4_1*>(src), y, n);
    case GgmlType::Q5_0: return dequantize_row_q5_0(static_cast<const block_q5_0*>(src), y, n);
    case GgmlType::Q5_1: return dequantize_row_q5_1(static_cast<const block_q5_1*>(src), y, n);
    case GgmlType::Q8_0: return dequantize_row_q8_0(static_cast<const block_q8_0*>(src), y, n);
    case GgmlType::Q8_1: return dequantize_row_q8_1(static_cast<const block_q8_1*>(src), y, n);
    case GgmlType::Q2_K: return dequantize_row_q2_K(static_cast<const block_q2_K*>(src), y, n);
    case GgmlType::Q3_K: return dequantize_row_q3_K(static_cast<const block_q3_K*>(src), y, n);
    case GgmlType::Q4_K: return dequantize_row_q4_K(static_cast<const block_q4_K*>(src), y, n);
    case GgmlType::Q5_K: return dequantize_row_q5_K(static_cast<const block_q5_K*>(src), y, n);
    case GgmlType::Q6_K: return dequantize_row_q6_K(static_cast<const block_q6_K*>(src), y, n);
    case GgmlType::Q8_K: return dequantize_row_q8_K(static_cast<const block_q8_K*>(src), y, n);
    case GgmlType::IQ4_NL: return dequantize_row_iq4_nl(static_cast<const block_iq4_nl*>(src), y, n);
    case GgmlType::IQ4_XS: return dequantize_row_iq4_xs(static_cast<const block_iq4_xs*>(src), y, n);
    case GgmlType::MXFP4: return dequantize_row_mxfp4(static_cast<const block_mxfp4*>(src), y, n);
    case GgmlType::IQ2_XXS: return dequantize_row_iq2_xxs(static_cast<const block_iq2_xxs*>(src), y, n);
    case GgmlType::IQ2_XS: return dequantize_row_iq2_xs(static_cast<const block_iq2_xs*>(src), y, n);
    case GgmlType::IQ2_S: return dequantize_row_iq2_s(static_cast<const block_iq2_s*>(src), y, n);
    case GgmlType::IQ3_XXS: return dequantize_row_iq3_xxs(static_cast<const block_iq3_xxs*>(src), y, n);
    case GgmlType::IQ3_S: return dequantize_row_iq3_s(static_cast<const block_iq3_s*>(src), y, n);
    case GgmlType::IQ1_S: return dequantize_row_iq1_s(static_cast<const block_iq1_s*>(src), y, n);
    case GgmlType::IQ1_M: return dequantize_row_iq1_m(static_cast<const block_iq1_m*>(src), y, n);
    default: fail("dequantize: type {} is not supported", ggml_type_name(type));
  }
}

void dequantize(GgmlType type, const void* src, float* dst, int64_t nrows, int64_t ncols) {
  if (!can_dequantize(type)) fail("dequantize: type {} is not supported", ggml_type_name(type));
  const int64_t bs = ggml_traits(type).block_size;
  if (ncols % bs != 0)
    fail("dequantize: ncols {} is not a multiple of the {} block size {}", ncols, ggml_type_name(type), bs);
  const size_t row_bytes = ggml_row_bytes(type, static_cast<uint64_t>(ncols));
  const auto* in = static_cast<const uint8_t*>(src);
#pragma omp parallel for schedule(static) if (nrows * ncols >= (1 << 16))
  for (int64_t r = 0; r < nrows; ++r) dequantize_row(type, in + r * row_bytes, dst + r * ncols, ncols);
}

GgmlType fallback_type(GgmlType wanted, int64_t ncols) {
  const int64_t bs = ggml_traits(wanted).block_size;
  if (ncols % bs == 0) return wanted;
  GgmlType fb = wanted;
  switch (wanted) {
    case GgmlType::IQ4_XS: fb = GgmlType::IQ4_NL; break;
    case GgmlType::IQ2_XXS: case GgmlType::IQ2_XS: case GgmlType::IQ2_S: case GgmlType::IQ3_XXS: case GgmlType::IQ3_S:
    case GgmlType::IQ1_S: case GgmlType::IQ1_M: fb = GgmlType::IQ4_NL; break;
    case GgmlType::Q2_K:
    case GgmlType::Q3_K: fb = GgmlType::Q4_0; break;
    case GgmlType::Q4_K: fb = GgmlType::Q5_0; break;
    case GgmlType::Q5_K: fb = GgmlType::Q5_1; break;
    case GgmlType::Q6_K: fb = GgmlType::Q8_0; break;
    default:
      if (bs > 32) fail("fallback_type: no fallback defined for {} (ncols {})", ggml_type_name(wanted), ncols);
      break;
  }
  if (ncols % ggml_traits(fb).block_size != 0) fb = GgmlType::F16;
  return fb;
}

}  // namespace lp::quant
