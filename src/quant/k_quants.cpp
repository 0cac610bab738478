// K-quants (256-element super-blocks): Q2_K, Q3_K, Q4_K, Q5_K, Q6_K and the Q8_K activation format.
// Layout notes (ggml-common.h), per super-block of 256 values:
//  Q2_K: 16 sub-blocks of 16; scales[j] = scale (low nibble) | min (high nibble); qs holds 2-bit codes,
//        byte l of 32-byte chunk c (0..1) packs elements 128c + l + 32s at bit 2s (s = 0..3).
//  Q3_K: 16 sub-blocks of 16 with 6-bit signed scales (+32 bias) packed in 12 bytes; low 2 bits as Q2_K,
//        high bit of element j in hmask[j % 32] bit (j / 32). Code = low | high<<2, value = code - 4.
//  Q4_K/Q5_K: 8 sub-blocks of 32 with 6-bit scale and min (get_scale_min_k4 packing); qs byte l of
//        chunk c (0..3) = element 64c + l (low nibble) and 64c + 32 + l (high nibble). Q5_K's fifth bit
//        of those two elements is qh[l] bit 2c and 2c+1.
//  Q6_K: 16 sub-blocks of 16 with int8 scales; ql/qh interleave 4 groups of 32 per 128 values.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "quant/rows.h"
#include "quant/scale_search.h"

namespace lp::quant {
using namespace detail;

namespace {

// Q2_K and Q3_K share the 2-bit packing.
void pack_2bit(const uint8_t* L, uint8_t* qs) {
  for (int j = 0; j < QK_K; j += 128)
    for (int l = 0; l < 32; ++l)
      qs[j / 4 + l] =
          static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 2) | (L[j + l + 64] << 4) | (L[j + l + 96] << 6));
}

void pack_q4_K_nibbles(const uint8_t* L, uint8_t* q) {
  for (int j = 0; j < QK_K; j += 64, q += 32)
    for (int l = 0; l < 32; ++l) q[l] = static_cast<uint8_t>(L[j + l] | (L[j + l + 32] << 4));
}

void pack_q5_K(const uint8_t* L, uint8_t* ql, uint8_t* qh) {
  std::memset(qh, 0, QK_K / 8);
  uint8_t m1 = 1, m2 = 2;
  for (int n = 0; n < QK_K; n += 64, ql += 32) {
    for (int j = 0; j < 32; ++j) {
      int l1 = L[n + j];
      if (l1 > 15) { l1 -= 16; qh[j] |= m1; }
      int l2 = L[n + j + 32];
      if (l2 > 15) { l2 -= 16; qh[j] |= m2; }
      ql[j] = static_cast<uint8_t>(l1 | (l2 << 4));
    }
    m1 = static_cast<uint8_t>(m1 << 2);
    m2 = static_cast<uint8_t>(m2 << 2);
  }
}

// Re-derives the codes from the final (fp16-rounded) scales/mins, as ggml does after packing them.
template <int kMax>
void requantize_affine_32(const float* x, const uint8_t* scales, float d_all, float m_all, uint8_t* L) {
  for (int j = 0; j < QK_K / 32; ++j) {
    uint8_t sc, m;
    get_scale_min_k4(j, scales, &sc, &m);
    const float d = d_all * sc;
    if (!d) continue;
    const float dm = m_all * m;
    for (int ii = 0; ii < 32; ++ii) {
      const int l = nearest_int((x[32 * j + ii] + dm) / d);
      L[32 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(kMax, l)));
    }
  }
}

// Q3_K's 6-bit scale j from the 12-byte packing.
int8_t q3_K_scale(const uint8_t* s, int j) {
  int8_t sc = static_cast<int8_t>(j < 8 ? s[j] & 0xF : s[j - 8] >> 4);
  return static_cast<int8_t>((sc | (((s[8 + j % 4] >> (2 * (j / 4))) & 3) << 4)) - 32);
}

void set_q3_K_scale(uint8_t* s, int j, int l) {  // l in [0, 63]; s zeroed beforehand
  if (j < 8) s[j] = static_cast<uint8_t>(l & 0xF);
  else s[j - 8] |= static_cast<uint8_t>((l & 0xF) << 4);
  l >>= 4;
  s[j % 4 + 8] |= static_cast<uint8_t>(l << (2 * (j / 4)));
}

void finish_q3_K(const float* x, block_q3_K& y, int8_t* L) {
  const float d_all = f16_to_f32(y.d);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = d_all * q3_K_scale(y.scales, j);
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearest_int(x[16 * j + ii] / d);
      l = std::max(-4, std::min(3, l));
      L[16 * j + ii] = static_cast<int8_t>(l + 4);
    }
  }
  std::memset(y.hmask, 0, QK_K / 8);
  int m = 0;
  uint8_t hm = 1;
  for (int j = 0; j < QK_K; ++j) {
    if (L[j] > 3) {
      y.hmask[m] |= hm;
      L[j] = static_cast<int8_t>(L[j] - 4);
    }
    if (++m == QK_K / 8) {
      m = 0;
      hm = static_cast<uint8_t>(hm << 1);
    }
  }
  pack_2bit(reinterpret_cast<const uint8_t*>(L), y.qs);
}

void finish_q6_K(const float* x, block_q6_K& y, int8_t* L) {
  const float d_all = f16_to_f32(y.d);
  for (int j = 0; j < QK_K / 16; ++j) {
    const float d = d_all * y.scales[j];
    if (!d) continue;
    for (int ii = 0; ii < 16; ++ii) {
      int l = nearest_int(x[16 * j + ii] / d);
      l = std::max(-32, std::min(31, l));
      L[16 * j + ii] = static_cast<int8_t>(l + 32);
    }
  }
  uint8_t* ql = y.ql;
  uint8_t* qh = y.qh;
  for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
    for (int l = 0; l < 32; ++l) {
      const uint8_t q1 = L[j + l + 0] & 0xF, q2 = L[j + l + 32] & 0xF;
      const uint8_t q3 = L[j + l + 64] & 0xF, q4 = L[j + l + 96] & 0xF;
      ql[l + 0] = static_cast<uint8_t>(q1 | (q3 << 4));
      ql[l + 32] = static_cast<uint8_t>(q2 | (q4 << 4));
      qh[l] = static_cast<uint8_t>((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                   ((L[j + l + 96] >> 4) << 6));
    }
  }
}

// Q4_K / Q5_K share everything except the code width and the final packing.
template <int kMax, typename Block>
void quantize_affine_K(const float* x, Block* y, int64_t k, const float* importance) {
  const int64_t nb = k / QK_K;
  uint8_t L[QK_K], Laux[32], Ls[QK_K / 32], Lm[QK_K / 32];
  float weights[32], mins[QK_K / 32], scales[QK_K / 32], sw[QK_K / 32];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    std::memset(y[i].scales, 0, K_SCALE_SIZE);
    if (!importance) {
      // Reference path (quantize_row_q{4,5}_K_ref).
      float max_scale = 0, max_min = 0;
      for (int j = 0; j < QK_K / 32; ++j) {
        float sum_x2 = 0;
        for (int l = 0; l < 32; ++l) sum_x2 += x[32 * j + l] * x[32 * j + l];
        const float av_x = std::sqrt(sum_x2 / 32);
        for (int l = 0; l < 32; ++l) weights[l] = av_x + std::fabs(x[32 * j + l]);
        scales[j] = kMax == 15
                        ? make_qkx2_quants(32, kMax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -1.f, 0.1f, 20, false)
                        : make_qkx2_quants(32, kMax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.5f, 0.1f, 15, false);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
      }
      const float inv_scale = max_scale > 0 ? 63.f / max_scale : 0.f;
      const float inv_min = max_min > 0 ? 63.f / max_min : 0.f;
      for (int j = 0; j < QK_K / 32; ++j) {
        uint8_t ls = static_cast<uint8_t>(nearest_int(inv_scale * scales[j]));
        uint8_t lm = static_cast<uint8_t>(nearest_int(inv_min * mins[j]));
        set_scale_min_k4(j, std::min<uint8_t>(63, ls), std::min<uint8_t>(63, lm), y[i].scales);
      }
      y[i].d = f32_to_f16(max_scale / 63.f);
      y[i].dmin = f32_to_f16(max_min / 63.f);
    } else {
      float sum_x2 = 0;
      for (int l = 0; l < QK_K; ++l) sum_x2 += x[l] * x[l];
      const float sigma2 = 2 * sum_x2 / QK_K;
      for (int j = 0; j < QK_K / 32; ++j) {
        const float* qw = importance + QK_K * i + 32 * j;
        for (int l = 0; l < 32; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + x[32 * j + l] * x[32 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 32; ++l) sumw += weights[l];
        sw[j] = sumw;
        scales[j] = make_qkx3_quants(32, kMax, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
      }
      const float d_block = make_qp_quants(QK_K / 32, 63, scales, Ls, sw);
      const float m_block = make_qp_quants(QK_K / 32, 63, mins, Lm, sw);
      for (int j = 0; j < QK_K / 32; ++j)
        set_scale_min_k4(j, std::min<uint8_t>(63, Ls[j]), std::min<uint8_t>(63, Lm[j]), y[i].scales);
      y[i].d = f32_to_f16(d_block);
      y[i].dmin = f32_to_f16(m_block);
    }
    requantize_affine_32<kMax>(x, y[i].scales, f16_to_f32(y[i].d), f16_to_f32(y[i].dmin), L);
    if constexpr (kMax == 15) pack_q4_K_nibbles(L, y[i].qs);
    else pack_q5_K(L, y[i].qs, y[i].qh);
  }
}

}  // namespace

void quantize_row_q2_K(const float* x, block_q2_K* y, int64_t k, const float* importance) {
  const int64_t nb = k / QK_K;
  uint8_t L[QK_K], Laux[16], Ls[QK_K / 16], Lm[QK_K / 16];
  float weights[16], mins[QK_K / 16], scales[QK_K / 16], sw[QK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    float dm, mm;
    if (!importance) {
      constexpr float q4scale = 15.f;
      float max_scale = 0, max_min = 0;
      for (int j = 0; j < QK_K / 16; ++j) {
        for (int l = 0; l < 16; ++l) weights[l] = std::fabs(x[16 * j + l]);
        scales[j] = make_qkx2_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.5f, 0.1f, 15, true);
        if (scales[j] > max_scale) max_scale = scales[j];
        if (mins[j] > max_min) max_min = mins[j];
      }
      if (max_scale > 0) {
        const float iscale = q4scale / max_scale;
        for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = static_cast<uint8_t>(nearest_int(iscale * scales[j]));
        y[i].d = f32_to_f16(max_scale / q4scale);
      } else {
        std::memset(y[i].scales, 0, QK_K / 16);
        y[i].d = f32_to_f16(0.f);
      }
      if (max_min > 0) {
        const float iscale = q4scale / max_min;
        for (int j = 0; j < QK_K / 16; ++j)
          y[i].scales[j] = static_cast<uint8_t>(y[i].scales[j] | (nearest_int(iscale * mins[j]) << 4));
        y[i].dmin = f32_to_f16(max_min / q4scale);
      } else {
        y[i].dmin = f32_to_f16(0.f);
      }
    } else {
      std::fill(sw, sw + QK_K / 16, 0.f);
      float sumx2 = 0;
      for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
      const float sigma2 = sumx2 / QK_K;
      for (int j = 0; j < QK_K / 16; ++j) {
        const float* qw = importance + QK_K * i + 16 * j;
        for (int l = 0; l < 16; ++l) weights[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        for (int l = 0; l < QK_K / 16; ++l) sw[j] += weights[l];
        scales[j] = make_qkx3_quants(16, 3, x + 16 * j, weights, L + 16 * j, &mins[j], Laux, -0.9f, 0.05f, 36, false);
      }
      dm = make_qp_quants(QK_K / 16, 15, scales, Ls, sw);
      mm = make_qp_quants(QK_K / 16, 15, mins, Lm, sw);
      y[i].d = f32_to_f16(dm);
      y[i].dmin = f32_to_f16(mm);
      for (int j = 0; j < QK_K / 16; ++j) y[i].scales[j] = static_cast<uint8_t>(Ls[j] | (Lm[j] << 4));
    }
    dm = f16_to_f32(y[i].d);
    mm = f16_to_f32(y[i].dmin);
    for (int j = 0; j < QK_K / 16; ++j) {
      const float d = dm * (y[i].scales[j] & 0xF);
      if (!d) continue;
      const float m = mm * (y[i].scales[j] >> 4);
      for (int ii = 0; ii < 16; ++ii) {
        const int l = nearest_int((x[16 * j + ii] + m) / d);
        L[16 * j + ii] = static_cast<uint8_t>(std::max(0, std::min(3, l)));
      }
    }
    pack_2bit(L, y[i].qs);
  }
}

void quantize_row_q3_K(const float* x, block_q3_K* y, int64_t k, const float* importance) {
  const int64_t nb = k / QK_K;
  int8_t L[QK_K], Ls[QK_K / 16];
  float scales[QK_K / 16], weight[16], sw[QK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    std::memset(y[i].scales, 0, 12);
    if (!importance) {
      float max_scale = 0, amax = 0;
      for (int j = 0; j < QK_K / 16; ++j) {
        scales[j] = make_q3_quants(16, 4, x + 16 * j, L + 16 * j, true);
        const float scale = std::fabs(scales[j]);
        if (scale > amax) {
          amax = scale;
          max_scale = scales[j];
        }
      }
      if (max_scale) {
        const float iscale = -32.f / max_scale;
        for (int j = 0; j < QK_K / 16; ++j) {
          int8_t l = static_cast<int8_t>(nearest_int(iscale * scales[j]));
          l = static_cast<int8_t>(std::max<int>(-32, std::min<int>(31, l)) + 32);
          set_q3_K_scale(y[i].scales, j, l);
        }
        y[i].d = f32_to_f16(1 / iscale);
      } else {
        y[i].d = f32_to_f16(0.f);
      }
    } else {
      float sumx2 = 0;
      for (int j = 0; j < QK_K; ++j) sumx2 += x[j] * x[j];
      const float sigma2 = 2 * sumx2 / QK_K;
      for (int j = 0; j < QK_K / 16; ++j) {
        const float* qw = importance + QK_K * i + 16 * j;
        for (int l = 0; l < 16; ++l) weight[l] = qw[l] * std::sqrt(sigma2 + x[16 * j + l] * x[16 * j + l]);
        float sumw = 0;
        for (int l = 0; l < 16; ++l) sumw += weight[l];
        sw[j] = sumw;
        scales[j] = make_qx_quants(16, 4, x + 16 * j, L + 16 * j, 1, weight);
      }
      const float d_block = make_qx_quants(QK_K / 16, 32, scales, Ls, 1, sw);
      for (int j = 0; j < QK_K / 16; ++j) set_q3_K_scale(y[i].scales, j, Ls[j]);
      y[i].d = f32_to_f16(d_block);
    }
    finish_q3_K(x, y[i], L);
  }
}

void quantize_row_q4_K(const float* x, block_q4_K* y, int64_t k, const float* importance) {
  quantize_affine_K<15>(x, y, k, importance);
}

void quantize_row_q5_K(const float* x, block_q5_K* y, int64_t k, const float* importance) {
  quantize_affine_K<31>(x, y, k, importance);
}

void quantize_row_q6_K(const float* x, block_q6_K* y, int64_t k, const float* importance) {
  const int64_t nb = k / QK_K;
  int8_t L[QK_K];
  float scales[QK_K / 16];
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    float max_scale = 0, max_abs_scale = 0;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
      // With an imatrix ggml weights by the importance alone (no sigma term) for Q6_K.
      const float* qw = importance ? importance + QK_K * i + 16 * ib : nullptr;
      const float scale = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib, 1, qw);
      scales[ib] = scale;
      const float abs_scale = std::fabs(scale);
      if (abs_scale > max_abs_scale) {
        max_abs_scale = abs_scale;
        max_scale = scale;
      }
    }
    if (max_abs_scale < kGroupMaxEps) {
      std::memset(&y[i], 0, sizeof(block_q6_K));
      y[i].d = f32_to_f16(0.f);
      continue;
    }
    const float iscale = -128.f / max_scale;
    y[i].d = f32_to_f16(1 / iscale);
    for (int ib = 0; ib < QK_K / 16; ++ib)
      y[i].scales[ib] = static_cast<int8_t>(std::min(127, nearest_int(iscale * scales[ib])));
    finish_q6_K(x, y[i], L);
  }
}

void quantize_row_q8_K(const float* x, block_q8_K* y, int64_t k) {
  const int64_t nb = k / QK_K;
  for (int64_t i = 0; i < nb; ++i, x += QK_K) {
    float max = 0, amax = 0;
    for (int j = 0; j < QK_K; ++j) {
      const float ax = std::fabs(x[j]);
      if (ax > amax) {
        amax = ax;
        max = x[j];
      }
    }
    if (!amax) {
      y[i].d = 0;
      std::memset(y[i].qs, 0, QK_K);
      std::memset(y[i].bsums, 0, sizeof(y[i].bsums));  // ggml leaves them stale; zero is their true value
      continue;
    }
    // -127 (not -128): ggml's IQ2_XXS AVX path needs |q| <= 127.
    const float iscale = -127.f / max;
    for (int j = 0; j < QK_K; ++j) y[i].qs[j] = static_cast<int8_t>(std::min(127, nearest_int(iscale * x[j])));
    for (int j = 0; j < QK_K / 16; ++j) {
      int sum = 0;
      for (int ii = 0; ii < 16; ++ii) sum += y[i].qs[j * 16 + ii];
      y[i].bsums[j] = static_cast<int16_t>(sum);
    }
    y[i].d = 1 / iscale;
  }
}

void dequantize_row_q2_K(const block_q2_K* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const float d = f16_to_f32(x[i].d), min = f16_to_f32(x[i].dmin);
    const uint8_t* q = x[i].qs;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2) {
        for (int half = 0; half < 2; ++half) {
          const uint8_t sc = x[i].scales[is++];
          const float dl = d * (sc & 0xF), ml = min * (sc >> 4);
          for (int l = 0; l < 16; ++l) *y++ = dl * ((q[l + 16 * half] >> shift) & 3) - ml;
        }
      }
    }
  }
}

void dequantize_row_q3_K(const block_q3_K* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const float d_all = f16_to_f32(x[i].d);
    const uint8_t* q = x[i].qs;
    const uint8_t* hm = x[i].hmask;
    uint8_t m = 1;
    int is = 0;
    for (int n = 0; n < QK_K; n += 128, q += 32) {
      for (int shift = 0; shift < 8; shift += 2, m = static_cast<uint8_t>(m << 1)) {
        for (int half = 0; half < 2; ++half) {
          const float dl = d_all * q3_K_scale(x[i].scales, is++);
          for (int l = 0; l < 16; ++l) {
            const int idx = l + 16 * half;
            *y++ = dl * (((q[idx] >> shift) & 3) - ((hm[idx] & m) ? 0 : 4));
          }
        }
      }
    }
  }
}

namespace {
template <bool kHighBit, typename Block>
void dequantize_affine_K(const Block* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const uint8_t* q = x[i].qs;
    const float d = f16_to_f32(x[i].d), min = f16_to_f32(x[i].dmin);
    int is = 0;
    uint8_t u1 = 1, u2 = 2;
    for (int j = 0; j < QK_K; j += 64, q += 32, is += 2) {
      uint8_t sc, m;
      get_scale_min_k4(is + 0, x[i].scales, &sc, &m);
      const float d1 = d * sc, m1 = min * m;
      get_scale_min_k4(is + 1, x[i].scales, &sc, &m);
      const float d2 = d * sc, m2 = min * m;
      for (int l = 0; l < 32; ++l) {
        int v = q[l] & 0xF;
        if constexpr (kHighBit) v += (x[i].qh[l] & u1) ? 16 : 0;
        *y++ = d1 * v - m1;
      }
      for (int l = 0; l < 32; ++l) {
        int v = q[l] >> 4;
        if constexpr (kHighBit) v += (x[i].qh[l] & u2) ? 16 : 0;
        *y++ = d2 * v - m2;
      }
      u1 = static_cast<uint8_t>(u1 << 2);
      u2 = static_cast<uint8_t>(u2 << 2);
    }
  }
}
}  // namespace

void dequantize_row_q4_K(const block_q4_K* x, float* y, int64_t k) { dequantize_affine_K<false>(x, y, k); }
void dequantize_row_q5_K(const block_q5_K* x, float* y, int64_t k) { dequantize_affine_K<true>(x, y, k); }

void dequantize_row_q6_K(const block_q6_K* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const uint8_t* ql = x[i].ql;
    const uint8_t* qh = x[i].qh;
    const int8_t* sc = x[i].scales;
    for (int n = 0; n < QK_K; n += 128, y += 128, ql += 64, qh += 32, sc += 8) {
      for (int l = 0; l < 32; ++l) {
        const int is = l / 16;
        const int q1 = ((ql[l + 0] & 0xF) | (((qh[l] >> 0) & 3) << 4)) - 32;
        const int q2 = ((ql[l + 32] & 0xF) | (((qh[l] >> 2) & 3) << 4)) - 32;
        const int q3 = ((ql[l + 0] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
        const int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
        y[l + 0] = d * sc[is + 0] * q1;
        y[l + 32] = d * sc[is + 2] * q2;
        y[l + 64] = d * sc[is + 4] * q3;
        y[l + 96] = d * sc[is + 6] * q4;
      }
    }
  }
}

void dequantize_row_q8_K(const block_q8_K* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i)
    for (int j = 0; j < QK_K; ++j) *y++ = x[i].d * x[i].qs[j];
}

}  // namespace lp::quant
