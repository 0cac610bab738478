// Scalar dequantizers for the weight types the engine runs (ggml block layouts, quant/blocks.h).
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "engine/matmul.h"
#include "quant/blocks.h"
#ifdef LP_ENGINE_HAS_KERNELS
#include "quant/quantize.h"
#endif

namespace lp::engine {
using namespace lp::quant;

namespace {

void get_scale_min_k4(int j, const uint8_t* q, uint8_t* d, uint8_t* m) {
  if (j < 4) {
    *d = q[j] & 63;
    *m = q[j + 4] & 63;
  } else {
    *d = (q[j + 4] & 0xF) | ((q[j - 4] >> 6) << 4);
    *m = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

}  // namespace

void dequantize_row(GgmlType type, const uint8_t* src, float* y, int64_t n) {
  switch (type) {
    case GgmlType::F32: std::memcpy(y, src, n * sizeof(float)); return;
    case GgmlType::F16: {
      const auto* s = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = f16_to_f32(s[i]);
      return;
    }
    case GgmlType::BF16: {
      const auto* s = reinterpret_cast<const uint16_t*>(src);
      for (int64_t i = 0; i < n; ++i) y[i] = bf16_to_f32(s[i]);
      return;
    }
    case GgmlType::Q8_0: {
      const auto* b = reinterpret_cast<const block_q8_0*>(src);
      for (int64_t i = 0; i < n / QK8_0; ++i) {
        const float d = f16_to_f32(b[i].d);
        for (int j = 0; j < QK8_0; ++j) y[i * QK8_0 + j] = d * b[i].qs[j];
      }
      return;
    }
    case GgmlType::Q4_0: {
      const auto* b = reinterpret_cast<const block_q4_0*>(src);
      for (int64_t i = 0; i < n / QK4_0; ++i) {
        const float d = f16_to_f32(b[i].d);
        for (int j = 0; j < QK4_0 / 2; ++j) {
          y[i * QK4_0 + j] = d * ((b[i].qs[j] & 0xF) - 8);
          y[i * QK4_0 + j + QK4_0 / 2] = d * ((b[i].qs[j] >> 4) - 8);
        }
      }
      return;
    }
    case GgmlType::Q4_K: {
      const auto* b = reinterpret_cast<const block_q4_K*>(src);
      for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
        const uint8_t* q = b[i].qs;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2) {
          uint8_t sc, m;
          get_scale_min_k4(is, b[i].scales, &sc, &m);
          const float d1 = d * sc, m1 = dmin * m;
          get_scale_min_k4(is + 1, b[i].scales, &sc, &m);
          const float d2 = d * sc, m2 = dmin * m;
          for (int l = 0; l < 32; ++l) *y++ = d1 * (q[l] & 0xF) - m1;
          for (int l = 0; l < 32; ++l) *y++ = d2 * (q[l] >> 4) - m2;
          q += 32;
        }
      }
      return;
    }
    case GgmlType::Q5_K: {
      const auto* b = reinterpret_cast<const block_q5_K*>(src);
      for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = f16_to_f32(b[i].d), dmin = f16_to_f32(b[i].dmin);
        const uint8_t* ql = b[i].qs;
        const uint8_t* qh = b[i].qh;
        uint8_t u1 = 1, u2 = 2;
        for (int j = 0, is = 0; j < QK_K; j += 64, is += 2) {
          uint8_t sc, m;
          get_scale_min_k4(is, b[i].scales, &sc, &m);
          const float d1 = d * sc, m1 = dmin * m;
          get_scale_min_k4(is + 1, b[i].scales, &sc, &m);
          const float d2 = d * sc, m2 = dmin * m;
          for (int l = 0; l < 32; ++l) *y++ = d1 * ((ql[l] & 0xF) + (qh[l] & u1 ? 16 : 0)) - m1;
          for (int l = 0; l < 32; ++l) *y++ = d2 * ((ql[l] >> 4) + (qh[l] & u2 ? 16 : 0)) - m2;
          ql += 32;
          u1 <<= 2;
          u2 <<= 2;
        }
      }
      return;
    }
    case GgmlType::Q6_K: {
      const auto* b = reinterpret_cast<const block_q6_K*>(src);
      for (int64_t i = 0; i < n / QK_K; ++i) {
        const float d = f16_to_f32(b[i].d);
        const uint8_t* ql = b[i].ql;
        const uint8_t* qh = b[i].qh;
        const int8_t* sc = b[i].scales;
        for (int half = 0; half < 2; ++half) {
          for (int l = 0; l < 32; ++l) {
            const int is = l / 16;
            const int q1 = static_cast<int>((ql[l] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
            const int q2 = static_cast<int>((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
            const int q3 = static_cast<int>((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
            const int q4 = static_cast<int>((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
            y[l] = d * sc[is + 0] * q1;
            y[l + 32] = d * sc[is + 2] * q2;
            y[l + 64] = d * sc[is + 4] * q3;
            y[l + 96] = d * sc[is + 6] * q4;
          }
          y += 128;
          ql += 64;
          qh += 32;
          sc += 8;
        }
      }
      return;
    }
    default:
#ifdef LP_ENGINE_HAS_KERNELS
      if (quant::can_dequantize(type)) return quant::dequantize_row(type, src, y, n);
#endif
      fail("engine: cannot dequantize tensor type {}", ggml_type_name(type));
  }
}

bool matmul_supports(GgmlType type) {
  switch (type) {
    case GgmlType::F32: case GgmlType::F16: case GgmlType::BF16: case GgmlType::Q8_0: case GgmlType::Q4_0:
    case GgmlType::Q4_K: case GgmlType::Q5_K: case GgmlType::Q6_K:
      return true;
    default: return false;
  }
}

bool engine_supports_type(GgmlType type) { return matmul_supports(type) || kernels_matmul_enabled(type); }

}  // namespace lp::engine
