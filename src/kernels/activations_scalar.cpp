#include <algorithm>
#include <cmath>

#include "core/fp16.h"
#include "kernels/activations.h"
#include "quant/blocks.h"

namespace lp::kernels {

using namespace lp::quant;

// Round half to even, like ggml's nearest_int and the SIMD cvtps2dq path.
static inline int nearest(float v) { return static_cast<int>(std::nearbyint(v)); }

void quantize_row_q8_0_scalar(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<block_q8_0*>(dst);
  for (int64_t i = 0; i < n / QK8_0; ++i) {
    const float* xb = x + i * QK8_0;
    float amax = 0;
    for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0 ? 127.0f / amax : 0.0f;  // as ggml's x86 quantizer (not 1/d)
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(nearest(xb[j] * id));
  }
}

void quantize_row_q8_1_scalar(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<block_q8_1*>(dst);
  for (int64_t i = 0; i < n / QK8_1; ++i) {
    const float* xb = x + i * QK8_1;
    float amax = 0;
    for (int j = 0; j < QK8_1; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / 127.0f;
    const float id = amax != 0 ? 127.0f / amax : 0.0f;  // as ggml's x86 quantizer (not 1/d)
    int sum = 0;
    for (int j = 0; j < QK8_1; ++j) {
      y[i].qs[j] = static_cast<int8_t>(nearest(xb[j] * id));
      sum += y[i].qs[j];
    }
    y[i].d = f32_to_f16(d);
    y[i].s = f32_to_f16(d * static_cast<float>(sum));
  }
}

void quantize_row_q8_K_scalar(const float* x, void* dst, int64_t n) {
  auto* y = static_cast<block_q8_K*>(dst);
  for (int64_t i = 0; i < n / QK_K; ++i) {
    const float* xb = x + i * QK_K;
    float amax = 0;
    for (int j = 0; j < QK_K; ++j) amax = std::max(amax, std::fabs(xb[j]));
    if (amax == 0) {
      y[i].d = 0;
      std::fill(std::begin(y[i].qs), std::end(y[i].qs), int8_t{0});
      std::fill(std::begin(y[i].bsums), std::end(y[i].bsums), int16_t{0});
      continue;
    }
    // Scale by the magnitude (not ggml's signed max) so the result is symmetric: |q| <= 127,
    // which the sign trick of the SIMD kernels needs.
    const float iscale = 127.0f / amax;
    for (int j = 0; j < QK_K; ++j) y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest(iscale * xb[j])));
    for (int g = 0; g < QK_K / 16; ++g) {
      int sum = 0;
      for (int j = 0; j < 16; ++j) sum += y[i].qs[16 * g + j];
      y[i].bsums[g] = static_cast<int16_t>(sum);
    }
    y[i].d = 1.0f / iscale;
  }
}

}  // namespace lp::kernels
