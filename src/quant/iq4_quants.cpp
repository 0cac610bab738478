// IQ4_NL (32-element blocks, fp16 scale) and IQ4_XS (256-element super-blocks, fp16 scale plus 6-bit
// sub-block scales biased by 32: low 4 bits in scales_l nibbles, high 2 bits in scales_h), both using
// the non-linear kvalues_iq4nl codebook. Nibble order as Q4_0: low = element j, high = element j+16.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/fp16.h"
#include "quant/rows.h"
#include "quant/scale_search.h"

namespace lp::quant {
using detail::best_index_int8;
using detail::kGroupMaxEps;
using detail::nearest_int;

namespace {

constexpr int kBlock = 32;

// ggml's quantize_row_iq4_nl_impl: per 32-block best-scale search over 2*ntry+1 candidate scales, then
// (super-block types) 6-bit sub-block scales relative to one fp16 super scale.
void quantize_iq4_superblock(int super_block_size, const float* x, half* dh, uint8_t* q4, uint16_t* scales_h,
                             uint8_t* scales_l, const float* quant_weights, int ntry) {
  float scales[QK_K / kBlock];
  float weight[kBlock];
  uint8_t L[QK_K];
  const int8_t* values = kvalues_iq4nl;

  float sigma2 = 0;
  for (int j = 0; j < super_block_size; ++j) sigma2 += x[j] * x[j];
  sigma2 *= 2.f / super_block_size;

  std::memset(q4, 0, super_block_size / 2);
  dh[0] = f32_to_f16(0.f);

  float max_scale = 0, amax_scale = 0;
  for (int ib = 0; ib < super_block_size / kBlock; ++ib) {
    const float* xb = x + ib * kBlock;
    uint8_t* Lb = L + ib * kBlock;
    if (quant_weights) {
      const float* qw = quant_weights + ib * kBlock;
      for (int j = 0; j < kBlock; ++j) weight[j] = qw[j] * std::sqrt(sigma2 + xb[j] * xb[j]);
    } else {
      for (int j = 0; j < kBlock; ++j) weight[j] = xb[j] * xb[j];
    }
    float amax = 0, max = 0;
    for (int j = 0; j < kBlock; ++j) {
      const float ax = std::fabs(xb[j]);
      if (ax > amax) {
        amax = ax;
        max = xb[j];
      }
    }
    if (amax < kGroupMaxEps) {
      scales[ib] = 0;
      continue;
    }
    float d = ntry > 0 ? -max / values[0] : max / values[0];
    float id = 1 / d;
    float sumqx = 0, sumq2 = 0;
    for (int j = 0; j < kBlock; ++j) {
      const float al = id * xb[j];
      const int l = best_index_int8(16, values, al);
      Lb[j] = static_cast<uint8_t>(l);
      const float q = values[l];
      const float w = weight[j];
      sumqx += w * q * xb[j];
      sumq2 += w * q * q;
    }
    d = sumq2 > 0 ? sumqx / sumq2 : 0.f;
    float best = d * sumqx;
    for (int itry = -ntry; itry <= ntry; ++itry) {
      id = (itry + values[0]) / max;
      sumqx = sumq2 = 0;
      for (int j = 0; j < kBlock; ++j) {
        const float al = id * xb[j];
        const int l = best_index_int8(16, values, al);
        const float q = values[l];
        const float w = weight[j];
        sumqx += w * q * xb[j];
        sumq2 += w * q * q;
      }
      if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
        d = sumqx / sumq2;
        best = d * sumqx;
      }
    }
    scales[ib] = d;
    const float abs_d = std::fabs(d);
    if (abs_d > amax_scale) {
      amax_scale = abs_d;
      max_scale = d;
    }
  }

  if (super_block_size / kBlock > 1) {
    const int nb = super_block_size / kBlock;
    std::memset(scales_h, 0, ((nb + 7) / 8) * sizeof(uint16_t));
    const float d = -max_scale / 32;
    dh[0] = f32_to_f16(d);
    const float id = d ? 1 / d : 0.f;
    for (int ib = 0; ib < nb; ++ib) {
      int l = nearest_int(id * scales[ib]);
      l = std::max(-32, std::min(31, l));
      const float dl = d * l;
      const float idl = dl ? 1 / dl : 0.f;
      uint8_t* Lb = L + ib * kBlock;
      const float* xb = x + ib * kBlock;
      for (int j = 0; j < kBlock; ++j) Lb[j] = static_cast<uint8_t>(best_index_int8(16, values, idl * xb[j]));
      l += 32;
      const uint8_t l_l = static_cast<uint8_t>(l & 0xf), l_h = static_cast<uint8_t>(l >> 4);
      if (ib % 2 == 0) scales_l[ib / 2] = l_l;
      else scales_l[ib / 2] |= static_cast<uint8_t>(l_l << 4);
      scales_h[ib / 8] |= static_cast<uint16_t>(l_h << 2 * (ib % 8));
    }
  } else {
    dh[0] = f32_to_f16(scales[0]);
    if (ntry > 0) {
      const float id = scales[0] ? 1 / scales[0] : 0;
      for (int j = 0; j < super_block_size; ++j) L[j] = static_cast<uint8_t>(best_index_int8(16, values, id * x[j]));
    }
  }

  for (int i = 0; i < super_block_size / 32; ++i)
    for (int j = 0; j < 16; ++j) q4[16 * i + j] = static_cast<uint8_t>(L[32 * i + j] | (L[32 * i + 16 + j] << 4));
}

}  // namespace

// llama-quantize runs ggml's quantize_iq4_nl/xs (ntry = 7, weights x^2 without an imatrix), not the
// cheaper *_ref variants; we do the same so files match.
void quantize_row_iq4_nl(const float* x, block_iq4_nl* y, int64_t k, const float* importance) {
  for (int64_t ib = 0; ib < k / QK4_NL; ++ib) {
    const float* qw = importance ? importance + QK4_NL * ib : nullptr;
    uint16_t unused_h = 0;
    quantize_iq4_superblock(QK4_NL, x + QK4_NL * ib, &y[ib].d, y[ib].qs, &unused_h, nullptr, qw, 7);
  }
}

void quantize_row_iq4_xs(const float* x, block_iq4_xs* y, int64_t k, const float* importance) {
  for (int64_t ib = 0; ib < k / QK_K; ++ib) {
    const float* qw = importance ? importance + QK_K * ib : nullptr;
    quantize_iq4_superblock(QK_K, x + QK_K * ib, &y[ib].d, y[ib].qs, &y[ib].scales_h, y[ib].scales_l, qw, 7);
  }
}

void dequantize_row_iq4_nl(const block_iq4_nl* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK4_NL; ++i, y += QK4_NL) {
    const float d = f16_to_f32(x[i].d);
    for (int j = 0; j < QK4_NL / 2; ++j) {
      y[j] = d * kvalues_iq4nl[x[i].qs[j] & 0xf];
      y[j + QK4_NL / 2] = d * kvalues_iq4nl[x[i].qs[j] >> 4];
    }
  }
}

void dequantize_row_iq4_xs(const block_iq4_xs* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const uint8_t* qs = x[i].qs;
    const float d = f16_to_f32(x[i].d);
    for (int ib = 0; ib < QK_K / 32; ++ib, y += 32, qs += 16) {
      const int ls = ((x[i].scales_l[ib / 2] >> 4 * (ib % 2)) & 0xf) | (((x[i].scales_h >> 2 * ib) & 3) << 4);
      const float dl = d * (ls - 32);
      for (int j = 0; j < 16; ++j) {
        y[j] = dl * kvalues_iq4nl[qs[j] & 0xf];
        y[j + 16] = dl * kvalues_iq4nl[qs[j] >> 4];
      }
    }
  }
}

}  // namespace lp::quant
