// Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q8_1: 32-element blocks with one fp16 scale (and min).
// Nibble order in all of them: qs[j] low nibble = element j, high nibble = element j+16.
// Q5_x keep the fifth bits in qh (little-endian u32): bit j = element j's bit 4 (j in 0..31).
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "quant/rows.h"
#include "quant/scale_search.h"

namespace lp::quant {
using detail::make_qkx3_quants;
using detail::make_qx_quants;

namespace {

// Per-element weight used by all legacy importance quantizers: imatrix * sqrt(sigma^2 + x^2).
float row_sigma2(const float* x, int64_t n) {
  float sum_x2 = 0;
  for (int64_t j = 0; j < n; ++j) sum_x2 += x[j] * x[j];
  return sum_x2 / n;
}

void fill_weights(const float* xb, const float* qw, float sigma2, float* weight, int n) {
  for (int j = 0; j < n; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
}

void pack_q5(const uint8_t* L, uint8_t* qs, uint8_t* qh_bytes) {
  uint32_t qh = 0;
  for (int j = 0; j < 16; ++j) {
    const uint8_t xi0 = L[j], xi1 = L[j + 16];
    qs[j] = static_cast<uint8_t>((xi0 & 0x0F) | ((xi1 & 0x0F) << 4));
    qh |= ((xi0 & 0x10u) >> 4) << (j + 0);
    qh |= ((xi1 & 0x10u) >> 4) << (j + 16);
  }
  std::memcpy(qh_bytes, &qh, sizeof(qh));
}

}  // namespace

void quantize_row_q4_0(const float* x, block_q4_0* y, int64_t k, const float* importance) {
  const int64_t nb = k / QK4_0;
  if (importance) {
    const float sigma2 = row_sigma2(x, k);
    float weight[QK4_0];
    int8_t L[QK4_0];
    for (int64_t ib = 0; ib < nb; ++ib) {
      const float* xb = x + QK4_0 * ib;
      fill_weights(xb, importance + QK4_0 * ib, sigma2, weight, QK4_0);
      const float d = make_qx_quants(QK4_0, 8, xb, L, 1, weight);
      y[ib].d = f32_to_f16(d);
      for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + i * QK4_0;
    float amax = 0, max = 0;
    for (int j = 0; j < QK4_0; ++j) {
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    const float d = max / -8;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < QK4_0 / 2; ++j) {
      // Truncation after +8.5 is ggml's rounding (values are >= 0 there).
      const uint8_t xi0 = static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(xb[j] * id + 8.5f)));
      const uint8_t xi1 = static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>(xb[j + 16] * id + 8.5f)));
      y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

void quantize_row_q4_1(const float* x, block_q4_1* y, int64_t k, const float* importance) {
  const int64_t nb = k / QK4_1;
  if (importance) {
    const float sigma2 = row_sigma2(x, k);
    float weight[QK4_1];
    uint8_t L[QK4_1], Laux[QK4_1];
    for (int64_t ib = 0; ib < nb; ++ib) {
      const float* xb = x + QK4_1 * ib;
      fill_weights(xb, importance + QK4_1 * ib, sigma2, weight, QK4_1);
      float min;
      const float d = make_qkx3_quants(QK4_1, 15, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
      y[ib].d = f32_to_f16(d);
      y[ib].m = f32_to_f16(-min);
      for (int j = 0; j < 16; ++j) y[ib].qs[j] = static_cast<uint8_t>(L[j] | (L[j + 16] << 4));
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + i * QK4_1;
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < QK4_1; ++j) {
      if (xb[j] < min) min = xb[j];
      if (xb[j] > max) max = xb[j];
    }
    const float d = (max - min) / ((1 << 4) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    for (int j = 0; j < QK4_1 / 2; ++j) {
      const uint8_t xi0 = static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>((xb[j] - min) * id + 0.5f)));
      const uint8_t xi1 =
          static_cast<uint8_t>(std::min<int>(15, static_cast<int8_t>((xb[j + 16] - min) * id + 0.5f)));
      y[i].qs[j] = static_cast<uint8_t>(xi0 | (xi1 << 4));
    }
  }
}

void quantize_row_q5_0(const float* x, block_q5_0* y, int64_t k, const float* importance) {
  const int64_t nb = k / QK5_0;
  if (importance) {
    const float sigma2 = row_sigma2(x, k);
    float weight[QK5_0];
    int8_t L[QK5_0];
    for (int64_t ib = 0; ib < nb; ++ib) {
      const float* xb = x + QK5_0 * ib;
      fill_weights(xb, importance + QK5_0 * ib, sigma2, weight, QK5_0);
      const float d = make_qx_quants(QK5_0, 16, xb, L, 1, weight);
      y[ib].d = f32_to_f16(d);
      pack_q5(reinterpret_cast<const uint8_t*>(L), y[ib].qs, y[ib].qh);
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + i * QK5_0;
    float amax = 0, max = 0;
    for (int j = 0; j < QK5_0; ++j) {
      if (amax < std::fabs(xb[j])) {
        amax = std::fabs(xb[j]);
        max = xb[j];
      }
    }
    const float d = max / -16;
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    uint8_t L[QK5_0];
    for (int j = 0; j < QK5_0; ++j)
      L[j] = static_cast<uint8_t>(std::min<int>(31, static_cast<int8_t>(xb[j] * id + 16.5f)));
    pack_q5(L, y[i].qs, y[i].qh);
  }
}

void quantize_row_q5_1(const float* x, block_q5_1* y, int64_t k, const float* importance) {
  const int64_t nb = k / QK5_1;
  if (importance) {
    const float sigma2 = row_sigma2(x, k);
    float weight[QK5_1];
    uint8_t L[QK5_1], Laux[QK5_1];
    for (int64_t ib = 0; ib < nb; ++ib) {
      const float* xb = x + QK5_1 * ib;
      fill_weights(xb, importance + QK5_1 * ib, sigma2, weight, QK5_1);
      float min;
      const float d = make_qkx3_quants(QK5_1, 31, xb, weight, L, &min, Laux, -0.9f, 0.05f, 36, false);
      y[ib].d = f32_to_f16(d);
      y[ib].m = f32_to_f16(-min);
      pack_q5(L, y[ib].qs, y[ib].qh);
    }
    return;
  }
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + i * QK5_1;
    float min = FLT_MAX, max = -FLT_MAX;
    for (int j = 0; j < QK5_1; ++j) {
      if (xb[j] < min) min = xb[j];
      if (xb[j] > max) max = xb[j];
    }
    const float d = (max - min) / ((1 << 5) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    y[i].m = f32_to_f16(min);
    uint8_t L[QK5_1];
    for (int j = 0; j < QK5_1; ++j) L[j] = static_cast<uint8_t>((xb[j] - min) * id + 0.5f);
    pack_q5(L, y[i].qs, y[i].qh);
  }
}

void quantize_row_q8_0(const float* x, block_q8_0* y, int64_t k) {
  const int64_t nb = k / QK8_0;
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + i * QK8_0;
    float amax = 0;
    for (int j = 0; j < QK8_0; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    for (int j = 0; j < QK8_0; ++j) y[i].qs[j] = static_cast<int8_t>(std::round(xb[j] * id));
  }
}

void quantize_row_q8_1(const float* x, block_q8_1* y, int64_t k) {
  const int64_t nb = k / QK8_1;
  for (int64_t i = 0; i < nb; ++i) {
    const float* xb = x + i * QK8_1;
    float amax = 0;
    for (int j = 0; j < QK8_1; ++j) amax = std::max(amax, std::fabs(xb[j]));
    const float d = amax / ((1 << 7) - 1);
    const float id = d ? 1.0f / d : 0.0f;
    y[i].d = f32_to_f16(d);
    int sum = 0;
    for (int j = 0; j < QK8_1 / 2; ++j) {
      y[i].qs[j] = static_cast<int8_t>(std::round(xb[j] * id));
      y[i].qs[j + 16] = static_cast<int8_t>(std::round(xb[j + 16] * id));
      sum += y[i].qs[j] + y[i].qs[j + 16];
    }
    y[i].s = f32_to_f16(sum * d);
  }
}

void dequantize_row_q4_0(const block_q4_0* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK4_0; ++i, y += QK4_0) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < 16; ++j) {
      y[j] = ((x[i].qs[j] & 0x0F) - 8) * d;
      y[j + 16] = ((x[i].qs[j] >> 4) - 8) * d;
    }
  }
}

void dequantize_row_q4_1(const block_q4_1* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK4_1; ++i, y += QK4_1) {
    const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
    for (int j = 0; j < 16; ++j) {
      y[j] = (x[i].qs[j] & 0x0F) * d + m;
      y[j + 16] = (x[i].qs[j] >> 4) * d + m;
    }
  }
}

void dequantize_row_q5_0(const block_q5_0* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK5_0; ++i, y += QK5_0) {
    const float d = f16_to_f32(x[i].d);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof(qh));
    for (int j = 0; j < 16; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
      y[j] = (((x[i].qs[j] & 0x0F) | h0) - 16) * d;
      y[j + 16] = (((x[i].qs[j] >> 4) | h1) - 16) * d;
    }
  }
}

void dequantize_row_q5_1(const block_q5_1* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK5_1; ++i, y += QK5_1) {
    const float d = f16_to_f32(x[i].d), m = f16_to_f32(x[i].m);
    uint32_t qh;
    std::memcpy(&qh, x[i].qh, sizeof(qh));
    for (int j = 0; j < 16; ++j) {
      const int h0 = ((qh >> j) << 4) & 0x10, h1 = (qh >> (j + 12)) & 0x10;
      y[j] = ((x[i].qs[j] & 0x0F) | h0) * d + m;
      y[j + 16] = ((x[i].qs[j] >> 4) | h1) * d + m;
    }
  }
}

void dequantize_row_q8_0(const block_q8_0* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK8_0; ++i, y += QK8_0) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < QK8_0; ++j) y[j] = x[i].qs[j] * d;
  }
}

void dequantize_row_q8_1(const block_q8_1* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK8_1; ++i, y += QK8_1) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < QK8_1; ++j) y[j] = x[i].qs[j] * d;
  }
}

}  // namespace lp::quant
