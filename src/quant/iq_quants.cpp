// The i-quants below 4 bits: IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S, IQ1_S, IQ1_M (ggml-common.h layouts,
// codebooks in quant/iq_grids.h). Each group of 8 (IQ2/IQ1) or 4 (IQ3) magnitudes is one entry of a fixed
// grid; signs are stored separately (IQ2_XXS/IQ2_XS/IQ3_XXS: 7 bits per 8 with an even-parity 8th).
// The quantizers follow ggml's quantize_iq*() step for step (what llama-quantize runs), including the
// floating-point evaluation order and its fudge factors, so the bytes equal llama.cpp's; the search is:
// per 16/32-value group, try a range of scales, snap each sub-group to its nearest grid point (off-grid points
// go to the best of their precomputed neighbours), keep the scale with the best weighted fit.
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstring>

#include "core/error.h"
#include "core/fp16.h"
#include "quant/iq_grids.h"
#include "quant/rows.h"
#include "quant/scale_search.h"

namespace lp::quant {
using detail::nearest_int;

namespace {

constexpr float kEps = 1e-15f;  // GROUP_MAX_EPS
constexpr float kEpsIq3xxs = 1e-8f;
constexpr float kEpsIq2s = 1e-8f;
constexpr float kEpsIq1m = 1e-7f;
constexpr float kEpsIq1s = 1e-12f;

void require_importance(const float* importance, const char* type) {
  if (!importance)
    fail("{} needs an importance matrix: pass --imatrix FILE or --calibration TEXT (llama.cpp requires one too)",
         type);
}

int clampi(int v, int lo, int hi) { return std::max(lo, std::min(hi, v)); }

// Grid point of `key` (packed levels) or, off the grid, the neighbour with the least weighted squared error at
// `scale` (ggml's iq2/iq3_find_best_neighbour); L receives its levels.
int best_neighbour(const IqLattice& lat, uint32_t key, const float* xval, const float* w, float scale, int8_t* L) {
  const uint16_t* nb = lat.neighbours_of(key);
  const int n = nb[0];
  float best_d2 = FLT_MAX;
  int index = -1;
  for (int j = 1; j <= n; ++j) {
    const int8_t* pg = lat.point(nb[j]);
    float d2 = 0;
    for (int i = 0; i < lat.lanes; ++i) {
      const float q = pg[i];
      const float diff = scale * q - xval[i];
      d2 += w[i] * diff * diff;
    }
    if (d2 < best_d2) {
      best_d2 = d2;
      index = nb[j];
    }
  }
  if (index < 0) fail("i-quant: no grid point fits (non-finite input?)");
  const int8_t* pg = lat.point(index);
  for (int i = 0; i < lat.lanes; ++i) L[i] = static_cast<int8_t>((pg[i] - 1) / 2);
  return index;
}

uint32_t pack_key(const IqLattice& lat, const int8_t* L) {
  uint32_t key = 0;
  for (int i = 0; i < lat.lanes; ++i) key |= static_cast<uint32_t>(L[i]) << (lat.bits * i);
  return key;
}

// Grid index of levels that must be on the grid (ggml aborts otherwise).
int on_grid_index(const IqLattice& lat, const int8_t* L) {
  const int32_t gi = lat.map[pack_key(lat, L)];
  if (gi < 0) fail("i-quant: internal error, point not on the grid");
  return gi;
}

// The scale search shared by IQ2_XXS/XS/S and IQ3_XXS/S over one group of n values (xval >= 0 mostly).
//   track:         remember which sub-groups landed on the grid at the best scale (else all count as off)
//   init_on:       initial on-grid state before any scale improves
//   recompute_all: in the final pass re-snap every sub-group, not only the off-grid ones
struct SearchRule {
  int n, kmaxq, is_range;
  float step;
  bool track, init_on, recompute_all;
};

float grid_search(const IqLattice& lat, const SearchRule& r, const float* xval, const float* weight, const float* waux,
                  float denom, float scale, int8_t* L) {
  const int lanes = lat.lanes, ng = r.n / lanes;
  int8_t Laux[32];
  bool on[8], on_aux[8];
  for (int k = 0; k < ng; ++k) on[k] = r.init_on;
  float best = 0;
  for (int is = -r.is_range; is <= r.is_range; ++is) {
    const float id = (2 * r.kmaxq - 1 + is * r.step) / denom;
    const float this_scale = 1 / id;
    for (int k = 0; k < ng; ++k) {
      for (int i = 0; i < lanes; ++i) {
        const int l = nearest_int(0.5f * (id * xval[lanes * k + i] - 1));
        Laux[lanes * k + i] = static_cast<int8_t>(clampi(l, 0, r.kmaxq - 1));
      }
      const uint32_t key = pack_key(lat, Laux + lanes * k);
      on_aux[k] = true;
      if (lat.map[key] < 0) {
        on_aux[k] = false;
        best_neighbour(lat, key, xval + lanes * k, waux + lanes * k, this_scale, Laux + lanes * k);
      }
    }
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < r.n; ++i) {
      const float w = weight[i];
      const float q = 2 * Laux[i] + 1;
      sumqx += w * xval[i] * q;
      sumq2 += w * q * q;
    }
    if (sumq2 > 0 && sumqx * sumqx > best * sumq2) {
      scale = sumqx / sumq2;
      best = scale * sumqx;
      std::memcpy(L, Laux, static_cast<size_t>(r.n));
      if (r.track) std::copy(on_aux, on_aux + ng, on);
    }
  }
  int n_off = 0;
  for (int k = 0; k < ng; ++k) n_off += !on[k];
  if (n_off > 0 && scale > 0) {
    const float id = 1 / scale;
    for (int k = 0; k < ng; ++k) {
      if (!r.recompute_all && on[k]) continue;
      for (int i = 0; i < lanes; ++i) {
        const int l = nearest_int(0.5f * (id * xval[lanes * k + i] - 1));
        L[lanes * k + i] = static_cast<int8_t>(clampi(l, 0, r.kmaxq - 1));
      }
      const uint32_t key = pack_key(lat, L + lanes * k);
      if (lat.map[key] < 0) best_neighbour(lat, key, xval + lanes * k, waux + lanes * k, scale, L + lanes * k);
    }
    float sumqx = 0, sumq2 = 0;
    for (int i = 0; i < r.n; ++i) {
      const float w = weight[i];
      const float q = 2 * L[i] + 1;
      sumqx += w * xval[i] * q;
      sumq2 += w * q * q;
    }
    if (sumq2 > 0) scale = sumqx / sumq2;
  }
  return scale;
}

// A negative group scale becomes positive with every stored sign flipped (7-bit signs stay 7-bit); returns the
// scale and puts the grid index of each sub-group of L (all on the grid by now) in gidx.
float finish_group(const IqLattice& lat, float scale, bool seven_bit_signs, uint8_t* signs, int nsigns, const int8_t* L,
                   uint16_t* gidx) {
  if (scale < 0) {
    scale = -scale;
    for (int k = 0; k < nsigns; ++k) signs[k] = static_cast<uint8_t>(seven_bit_signs ? (~signs[k] & 127) : ~signs[k]);
  }
  for (int k = 0; k < 8 * nsigns / lat.lanes; ++k) gidx[k] = static_cast<uint16_t>(on_grid_index(lat, L + lat.lanes * k));
  return scale;
}

// |x| of 8 values and their sign bits; with `even`, an odd number of negatives flips the sign of the element
// with the least weighted x^2 (its magnitude is quantized negated) so the 8th sign bit is implied by parity.
uint8_t split_signs(const float* xb, const float* weight, float* xval, bool even) {
  int nflip = 0;
  uint8_t s = 0;
  for (int i = 0; i < 8; ++i) {
    if (xb[i] >= 0) {
      xval[i] = xb[i];
    } else {
      xval[i] = -xb[i];
      ++nflip;
      s = static_cast<uint8_t>(s | (1 << i));
    }
  }
  if (even && nflip % 2) {
    int imin = 0;
    float min = weight[imin] * xb[imin] * xb[imin];
    for (int i = 1; i < 8; ++i) {
      const float ax = weight[i] * xb[i] * xb[i];
      if (ax < min) {
        min = ax;
        imin = i;
      }
    }
    xval[imin] = -xval[imin];
    s = static_cast<uint8_t>(s ^ (1 << imin));
  }
  return even ? static_cast<uint8_t>(s & 127) : s;
}

float sum_sq(const float* x, int n) {
  float s = 0;
  for (int i = 0; i < n; ++i) s += x[i] * x[i];
  return s;
}

void importance_weights(const float* qw, const float* xb, float sigma2, int n, float* weight) {
  for (int i = 0; i < n; ++i) weight[i] = qw[i] * std::sqrt(sigma2 + xb[i] * xb[i]);
}

float max_of(const float* x, int n) {
  float m = x[0];
  for (int i = 1; i < n; ++i) m = std::max(m, x[i]);
  return m;
}

// Super-block scale code of a group scale: 4 bits, value (2l+1)/2 * d.
int scale_code(float id, float s, int hi) { return clampi(nearest_int(0.5f * (id * s - 1)), 0, hi); }

// IQ2_XS / IQ2_S: 16 group scales as 4-bit codes, two per byte (low nibble first).
void pack_nibble_scales(const float* scales, float id, uint8_t* out) {
  for (int ib = 0; ib < QK_K / 16; ib += 2)
    out[ib / 2] = static_cast<uint8_t>(scale_code(id, scales[ib], 15) | (scale_code(id, scales[ib + 1], 15) << 4));
}

}  // namespace

// ---------------------------------------------------------------- IQ2_XXS (2.0625 bpw)
void quantize_row_iq2_xxs(const float* x, block_iq2_xxs* y, int64_t n, const float* importance) {
  require_importance(importance, "IQ2_XXS");
  const IqLattice& lat = iq_lattice(GgmlType::IQ2_XXS);
  constexpr int kMaxQ = 3;
  const SearchRule rule{32, kMaxQ, 6, 0.1f, false, false, true};
  float scales[QK_K / 32], weight[32], xval[32], waux[32];
  int8_t L[32];
  uint8_t block_signs[4];
  uint32_t q2[2 * (QK_K / 32)];
  for (int64_t ibl = 0; ibl < n / QK_K; ++ibl) {
    y[ibl].d = f32_to_f16(0.f);
    std::memset(q2, 0, sizeof(q2));
    float max_scale = 0;
    const float* xbl = x + QK_K * ibl;
    const float sigma2 = sum_sq(xbl, QK_K) / QK_K;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      const float* xb = xbl + 32 * ib;
      importance_weights(importance + QK_K * ibl + 32 * ib, xb, sigma2, 32, weight);
      for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
      for (int k = 0; k < 4; ++k) block_signs[k] = split_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k, true);
      const float max = max_of(xval, 32);
      if (max < kEps) {
        scales[ib] = 0;
        continue;
      }
      uint8_t Lqp[32];
      float scale = detail::make_qp_quants(32, kMaxQ + 1, xval, Lqp, weight);
      for (int i = 0; i < 32; ++i) L[i] = static_cast<int8_t>(Lqp[i]);
      const float eff_max = scale * kMaxQ;
      if (eff_max <= 0) {
        scales[ib] = 0;
        continue;
      }
      scale = grid_search(lat, rule, xval, weight, waux, eff_max, scale, L);
      if (scale < 0) {
        scale = -scale;
        for (int k = 0; k < 4; ++k) block_signs[k] = static_cast<uint8_t>(~block_signs[k] & 127);
      }
      for (int k = 0; k < 4; ++k) {
        const int gi = on_grid_index(lat, L + 8 * k);
        q2[2 * ib + 0] |= static_cast<uint32_t>(gi) << 8 * k;
        q2[2 * ib + 1] |= static_cast<uint32_t>(block_signs[k]) << 7 * k;
      }
      scales[ib] = scale;
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) {
      std::memset(y[ibl].qs, 0, sizeof(y[ibl].qs));
      continue;
    }
    const float d = max_scale / 31;
    y[ibl].d = f32_to_f16(d);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 32; ++ib) q2[2 * ib + 1] |= static_cast<uint32_t>(scale_code(id, scales[ib], 15)) << 28;
    std::memcpy(y[ibl].qs, q2, sizeof(q2));
  }
}

// ---------------------------------------------------------------- IQ2_XS (2.3125 bpw) and IQ2_S (2.5625 bpw)
namespace {

// The 16-value-group search both share; returns the group scale, fills the two grid indices and sign bytes.
float iq2_group16(const IqLattice& lat, const float* xb, const float* weight, bool even_signs, float eps,
                  uint16_t* gidx, uint8_t* signs) {
  constexpr int kMaxQ = 3;
  const SearchRule rule{16, kMaxQ, 9, 0.1f, true, true, false};
  float xval[16], waux[16];
  int8_t L[16] = {};
  for (int i = 0; i < 16; ++i) waux[i] = std::sqrt(weight[i]);
  for (int k = 0; k < 2; ++k) signs[k] = split_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k, even_signs);
  const float max = max_of(xval, 16);
  if (max < eps) {
    gidx[0] = gidx[1] = 0xffff;  // not written
    return 0;
  }
  const float scale = grid_search(lat, rule, xval, weight, waux, max, max / (2 * kMaxQ - 1), L);
  return finish_group(lat, scale, even_signs, signs, 2, L, gidx);
}

}  // namespace

void quantize_row_iq2_xs(const float* x, block_iq2_xs* y, int64_t n, const float* importance) {
  require_importance(importance, "IQ2_XS");
  const IqLattice& lat = iq_lattice(GgmlType::IQ2_XS);
  float scales[QK_K / 16], weight[16];
  uint16_t q2[2 * (QK_K / 16)];
  for (int64_t ibl = 0; ibl < n / QK_K; ++ibl) {
    y[ibl].d = f32_to_f16(0.f);
    std::memset(q2, 0, sizeof(q2));
    std::memset(y[ibl].scales, 0, sizeof(y[ibl].scales));
    float max_scale = 0;
    const float* xbl = x + QK_K * ibl;
    const float sigma2 = sum_sq(xbl, QK_K) / QK_K;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
      const float* xb = xbl + 16 * ib;
      importance_weights(importance + QK_K * ibl + 16 * ib, xb, sigma2, 16, weight);
      uint16_t gidx[2] = {};
      uint8_t signs[2];
      const float scale = iq2_group16(lat, xb, weight, true, kEps, gidx, signs);
      scales[ib] = scale;
      if (gidx[0] == 0xffff) continue;
      for (int k = 0; k < 2; ++k) q2[2 * ib + k] = static_cast<uint16_t>(gidx[k] | (signs[k] << 9));
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) {
      std::memset(y[ibl].qs, 0, sizeof(y[ibl].qs));
      continue;
    }
    const float d = max_scale / 31;
    y[ibl].d = f32_to_f16(d);
    const float id = 1 / d;
    pack_nibble_scales(scales, id, y[ibl].scales);
    std::memcpy(y[ibl].qs, q2, sizeof(q2));
  }
}

void quantize_row_iq2_s(const float* x, block_iq2_s* y, int64_t n, const float* importance) {
  const IqLattice& lat = iq_lattice(GgmlType::IQ2_S);
  float scales[QK_K / 16], weight[16];
  for (int64_t ibl = 0; ibl < n / QK_K; ++ibl) {
    std::memset(&y[ibl], 0, sizeof(block_iq2_s));
    y[ibl].d = f32_to_f16(0.f);
    float max_scale = 0;
    const float* xbl = x + QK_K * ibl;
    const float sigma2 = 2 * sum_sq(xbl, QK_K) / QK_K;
    for (int ib = 0; ib < QK_K / 16; ++ib) {
      const float* xb = xbl + 16 * ib;
      if (importance) importance_weights(importance + QK_K * ibl + 16 * ib, xb, sigma2, 16, weight);
      else
        for (int i = 0; i < 16; ++i) weight[i] = 0.25f * sigma2 + xb[i] * xb[i];
      uint16_t gidx[2] = {};
      uint8_t signs[2];
      const float scale = iq2_group16(lat, xb, weight, false, kEpsIq2s, gidx, signs);
      scales[ib] = scale;
      if (gidx[0] == 0xffff) continue;
      for (int k = 0; k < 2; ++k) {
        const int i8 = 2 * ib + k;
        y[ibl].qs[i8] = static_cast<uint8_t>(gidx[k] & 255);
        y[ibl].qh[i8 / 4] = static_cast<uint8_t>(y[ibl].qh[i8 / 4] | ((gidx[k] >> 8) << 2 * (i8 % 4)));
        y[ibl].qs[QK_K / 8 + i8] = signs[k];
      }
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) continue;
    const float d = max_scale / 31;
    y[ibl].d = f32_to_f16(d * 0.9875f);
    const float id = 1 / d;
    pack_nibble_scales(scales, id, y[ibl].scales);
  }
}

// ---------------------------------------------------------------- IQ3_XXS (3.0625 bpw) and IQ3_S (3.4375 bpw)
namespace {

// One 32-value group of IQ3_XXS (xxs) or IQ3_S: weights, signs (4 bytes), grid search. Returns the scale
// (0: group skipped, gidx untouched); gidx gets 8 grid indices.
float iq3_group32(const IqLattice& lat, bool xxs, const float* xb, const float* qw, float sigma2, uint16_t* gidx,
                  uint8_t* signs, bool* skipped) {
  constexpr int kMaxQ = 8;
  float weight[32], waux[32], xval[32];
  int8_t L[32] = {};
  if (qw) importance_weights(qw, xb, sigma2, 32, weight);
  else
    for (int i = 0; i < 32; ++i) weight[i] = xb[i] * xb[i];
  for (int i = 0; i < 32; ++i) waux[i] = std::sqrt(weight[i]);
  for (int k = 0; k < 4; ++k) signs[k] = split_signs(xb + 8 * k, weight + 8 * k, xval + 8 * k, xxs);
  const float max = max_of(xval, 32);
  *skipped = xxs ? max < kEpsIq3xxs : !max;
  if (*skipped) return 0;
  const SearchRule rule = xxs ? SearchRule{32, kMaxQ, 15, 0.2f, true, true, false}
                              : SearchRule{32, kMaxQ, 9, 0.2f, true, false, true};
  const float scale = grid_search(lat, rule, xval, weight, waux, max, max / (2 * kMaxQ - 1), L);
  return finish_group(lat, scale, xxs, signs, 4, L, gidx);
}

}  // namespace

void quantize_row_iq3_xxs(const float* x, block_iq3_xxs* y, int64_t n, const float* importance) {
  const IqLattice& lat = iq_lattice(GgmlType::IQ3_XXS);
  float scales[QK_K / 32];
  uint8_t q3[3 * (QK_K / 8)];
  uint32_t scales_and_signs[QK_K / 32];
  for (int64_t ibl = 0; ibl < n / QK_K; ++ibl) {
    y[ibl].d = f32_to_f16(0.f);
    std::memset(q3, 0, sizeof(q3));
    std::memset(scales_and_signs, 0, sizeof(scales_and_signs));
    float max_scale = 0;
    const float* xbl = x + QK_K * ibl;
    const float sigma2 = 2 * sum_sq(xbl, QK_K) / QK_K;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      uint16_t gidx[8] = {};
      uint8_t signs[4];
      bool skipped = false;
      const float scale = iq3_group32(lat, true, xbl + 32 * ib, importance ? importance + QK_K * ibl + 32 * ib : nullptr,
                                      sigma2, gidx, signs, &skipped);
      scales[ib] = scale;
      if (skipped) continue;
      for (int k = 0; k < 8; ++k) q3[8 * ib + k] = static_cast<uint8_t>(gidx[k]);
      scales_and_signs[ib] = signs[0] | (signs[1] << 7) | (signs[2] << 14) | (static_cast<uint32_t>(signs[3]) << 21);
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) {
      std::memset(y[ibl].qs, 0, sizeof(y[ibl].qs));
      continue;
    }
    const float d = max_scale / 31;
    y[ibl].d = f32_to_f16(d * 1.0125f);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 32; ++ib) scales_and_signs[ib] |= static_cast<uint32_t>(scale_code(id, scales[ib], 15)) << 28;
    std::memcpy(y[ibl].qs, q3, QK_K / 4);
    std::memcpy(y[ibl].qs + QK_K / 4, scales_and_signs, sizeof(scales_and_signs));
  }
}

void quantize_row_iq3_s(const float* x, block_iq3_s* y, int64_t n, const float* importance) {
  const IqLattice& lat = iq_lattice(GgmlType::IQ3_S);
  float scales[QK_K / 32];
  for (int64_t ibl = 0; ibl < n / QK_K; ++ibl) {
    std::memset(&y[ibl], 0, sizeof(block_iq3_s));
    y[ibl].d = f32_to_f16(0.f);
    float max_scale = 0;
    const float* xbl = x + QK_K * ibl;
    const float sigma2 = 2 * sum_sq(xbl, QK_K) / QK_K;
    for (int ib = 0; ib < QK_K / 32; ++ib) {
      uint16_t gidx[8] = {};
      uint8_t signs[4];
      bool skipped = false;
      const float scale = iq3_group32(lat, false, xbl + 32 * ib, importance ? importance + QK_K * ibl + 32 * ib : nullptr,
                                      sigma2, gidx, signs, &skipped);
      scales[ib] = scale;
      if (skipped) continue;
      for (int k = 0; k < 8; ++k) {
        y[ibl].qs[8 * ib + k] = static_cast<uint8_t>(gidx[k] & 255);
        y[ibl].qh[ib] = static_cast<uint8_t>(y[ibl].qh[ib] | ((gidx[k] >> 8) << k));
      }
      std::memcpy(y[ibl].signs + 4 * ib, signs, 4);
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) continue;
    const float d = max_scale / 31;
    y[ibl].d = f32_to_f16(d * 1.033f);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / 32; ib += 2)
      y[ibl].scales[ib / 2] =
          static_cast<uint8_t>(scale_code(id, scales[ib], 15) | (scale_code(id, scales[ib + 1], 15) << 4));
  }
}

// ---------------------------------------------------------------- IQ1_S (1.5625 bpw) and IQ1_M (1.75 bpw)
namespace {

const float kXp[3] = {-1 + kIq1Delta, kIq1Delta, 1 + kIq1Delta};
const float kXm[3] = {-1 - kIq1Delta, -kIq1Delta, 1 - kIq1Delta};

// ggml's iq1_find_best_neighbour2: the neighbour (or, if none scores finite, any grid point) with the least
// weighted squared error, values xg[level]. ggml's all-grid fallback indexes xval by the grid index (an
// out-of-bounds read); we index by element. It is only reached when no neighbour has a finite error.
int iq1_best_neighbour(const IqLattice& lat, uint32_t key, const float* xval, const float* weight, float scale,
                       const float* xg, int8_t* L) {
  const uint16_t* nb = lat.neighbours_of(key);
  float best = FLT_MAX;
  int index = -1;
  auto score = [&](int g) {
    const int8_t* pg = lat.point(g);
    float d2 = 0;
    for (int i = 0; i < 8; ++i) {
      const float q = xg[(pg[i] - 1) / 2];
      const float w = weight[i];
      const float diff = scale * q - xval[i];
      d2 += w * diff * diff;
    }
    if (d2 < best) {
      best = d2;
      index = g;
    }
  };
  for (int j = 1; j <= nb[0]; ++j) score(nb[j]);
  if (index < 0)
    for (int g = 0; g < 2048; ++g) score(g);
  if (index < 0) fail("i-quant: no IQ1 grid point fits (non-finite input?)");
  const int8_t* pg = lat.point(index);
  for (int i = 0; i < 8; ++i) L[i] = static_cast<int8_t>((pg[i] - 1) / 2);
  return index;
}

// Values of the block sorted ascending (stable, as glibc's merge-sort qsort leaves equal keys) -> idx.
void sort_indices(const float* xb, int n, int* idx) {
  for (int j = 0; j < n; ++j) idx[j] = j;
  std::stable_sort(idx, idx + n, [&](int a, int b) { return xb[a] < xb[b]; });
}

}  // namespace

void quantize_row_iq1_s(const float* x, block_iq1_s* y, int64_t n, const float* importance) {
  require_importance(importance, "IQ1_S");
  const IqLattice& lat = iq_lattice(GgmlType::IQ1_S);
  constexpr int bs = 32;
  float scales[QK_K / bs], weight[bs], sumx[bs + 1], sumw[bs + 1];
  int8_t L[bs];
  int idx[bs];
  uint16_t index[bs / 8];
  int8_t shifts[QK_K / bs];
  for (int64_t ibl = 0; ibl < n / QK_K; ++ibl) {
    y[ibl].d = f32_to_f16(0.f);
    std::memset(y[ibl].qs, 0, sizeof(y[ibl].qs));
    std::memset(y[ibl].qh, 0, sizeof(y[ibl].qh));
    float max_scale = 0;
    const float* xbl = x + QK_K * ibl;
    const float sigma2 = 2 * sum_sq(xbl, QK_K) / QK_K;
    for (int ib = 0; ib < QK_K / bs; ++ib) {
      const float* xb = xbl + bs * ib;
      importance_weights(importance + QK_K * ibl + bs * ib, xb, sigma2, bs, weight);
      float max = std::fabs(xb[0]);
      for (int i = 1; i < bs; ++i) max = std::max(max, std::fabs(xb[i]));
      if (max < kEpsIq1s) {
        scales[ib] = 0;
        shifts[ib] = 1;
        continue;
      }
      sort_indices(xb, bs, idx);
      sumx[0] = sumw[0] = 0;
      for (int j = 0; j < bs; ++j) {
        const int i = idx[j];
        sumx[j + 1] = sumx[j] + weight[i] * xb[i];
        sumw[j + 1] = sumw[j] + weight[i];
      }
      float best_score = -FLT_MAX, scale = max;
      int besti1 = -1, besti2 = -1, best_shift = 0;
      for (int i1 = 0; i1 <= bs; ++i1) {
        for (int i2 = i1; i2 <= bs; ++i2) {
          for (int shift : {1, -1}) {
            const float* xs = shift == 1 ? kXp : kXm;
            const float sumqx = (sumx[i1] - sumx[0]) * xs[0] + (sumx[i2] - sumx[i1]) * xs[1] + (sumx[bs] - sumx[i2]) * xs[2];
            const float sumq2 = (sumw[i1] - sumw[0]) * xs[0] * xs[0] + (sumw[i2] - sumw[i1]) * xs[1] * xs[1] +
                                (sumw[bs] - sumw[i2]) * xs[2] * xs[2];
            if (sumq2 > 0 && sumqx * sumqx > best_score * sumq2) {
              scale = sumqx / sumq2;
              best_score = scale * sumqx;
              besti1 = i1;
              besti2 = i2;
              best_shift = shift;
            }
          }
        }
      }
      if (besti1 < 0 || besti2 < 0 || best_shift == 0) {
        scales[ib] = 0;
        shifts[ib] = 1;
        continue;
      }
      for (int j = 0; j < besti1; ++j) L[idx[j]] = 0;
      for (int j = besti1; j < besti2; ++j) L[idx[j]] = 1;
      for (int j = besti2; j < bs; ++j) L[idx[j]] = 2;
      if (scale < 0) {
        for (int j = 0; j < bs; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
        scale = -scale;
        best_shift = -best_shift;
      }
      bool all_on_grid = true;
      const float* xx = best_shift == 1 ? kXp : kXm;
      for (int k = 0; k < bs / 8; ++k) {
        const uint32_t key = pack_key(lat, L + 8 * k);
        int gi = lat.map[key];
        if (gi < 0) {
          all_on_grid = false;
          gi = iq1_best_neighbour(lat, key, xb + 8 * k, weight + 8 * k, scale, xx, L + 8 * k);
        }
        index[k] = static_cast<uint16_t>(gi);
      }
      if (!all_on_grid) {
        float sumqx = 0, sumq2 = 0;
        for (int k = 0; k < bs / 8; ++k) {
          const int8_t* pg = lat.point(index[k]);
          for (int j = 0; j < 8; ++j) {
            const float w = weight[8 * k + j];
            const float q = xx[(pg[j] - 1) / 2];
            sumqx += w * q * xb[8 * k + j];
            sumq2 += w * q * q;
          }
        }
        if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
      }
      uint16_t h = 0;
      for (int k = 0; k < bs / 8; ++k) {
        y[ibl].qs[(bs / 8) * ib + k] = static_cast<uint8_t>(index[k] & 255);
        h = static_cast<uint16_t>(h | ((index[k] >> 8) << 3 * k));
      }
      y[ibl].qh[ib] = h;
      scales[ib] = scale;
      shifts[ib] = static_cast<int8_t>(best_shift);
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) continue;
    const float d = max_scale / 15;
    y[ibl].d = f32_to_f16(d * 1.125f);
    const float id = 1 / d;
    for (int ib = 0; ib < QK_K / bs; ++ib) {
      int l = scale_code(id, scales[ib], 7);
      if (shifts[ib] == -1) l |= 8;
      y[ibl].qh[ib] = static_cast<uint16_t>(y[ibl].qh[ib] | (l << 12));
    }
  }
}

void quantize_row_iq1_m(const float* x, block_iq1_m* y, int64_t n, const float* importance) {
  const IqLattice& lat = iq_lattice(GgmlType::IQ1_M);
  constexpr int bs = 16;
  constexpr uint8_t masks[4] = {0x00, 0x80, 0x08, 0x88};
  float scales[QK_K / bs], weight[bs];
  int8_t L[bs];
  int idx[bs];
  uint16_t index[bs / 8];
  int8_t shifts[QK_K / bs];
  // Shift set of sub-group k (0: first 8 values, 1: second 8) under shift code best_k.
  auto shift_set = [](int best_k, int k) { return (k == 0 ? best_k < 2 : best_k % 2 == 0) ? kXp : kXm; };
  for (int64_t ibl = 0; ibl < n / QK_K; ++ibl) {
    std::memset(y[ibl].qs, 0, sizeof(y[ibl].qs));
    std::memset(y[ibl].qh, 0, sizeof(y[ibl].qh));
    std::memset(y[ibl].scales, 0, sizeof(y[ibl].scales));
    float max_scale = 0;
    const float* xbl = x + QK_K * ibl;
    const float sigma2 = 2 * sum_sq(xbl, QK_K) / QK_K;
    auto weights_of = [&](int ib, const float* xb) {
      if (importance) importance_weights(importance + QK_K * ibl + bs * ib, xb, sigma2, bs, weight);
      else
        for (int i = 0; i < bs; ++i) weight[i] = xb[i] * xb[i];
    };
    for (int ib = 0; ib < QK_K / bs; ++ib) {
      const float* xb = xbl + bs * ib;
      weights_of(ib, xb);
      float max = std::fabs(xb[0]);
      for (int i = 1; i < bs; ++i) max = std::max(max, std::fabs(xb[i]));
      if (max < kEpsIq1m) {
        scales[ib] = 0;
        shifts[ib] = 0;
        continue;
      }
      sort_indices(xb, bs, idx);
      float best_score = -FLT_MAX, scale = max;
      int besti1 = -1, besti2 = -1, best_k = -1;
      for (int i1 = 0; i1 <= bs; ++i1) {
        for (int i2 = i1; i2 <= bs; ++i2) {
          float sumqx[4] = {}, sumq2[4] = {};
          auto add = [&](int from, int to, int level) {
            for (int j = from; j < to; ++j) {
              const int i = idx[j];
              for (int k = 0; k < 4; ++k) {
                const float* xs = (i < bs / 2 ? k < 2 : k % 2 == 0) ? kXp : kXm;
                sumqx[k] += weight[i] * xs[level] * xb[i];
                sumq2[k] += weight[i] * xs[level] * xs[level];
              }
            }
          };
          add(0, i1, 0);
          add(i1, i2, 1);
          add(i2, bs, 2);
          for (int k = 0; k < 4; ++k) {
            if (sumq2[k] > 0 && sumqx[k] * sumqx[k] > best_score * sumq2[k]) {
              scale = sumqx[k] / sumq2[k];
              best_score = scale * sumqx[k];
              besti1 = i1;
              besti2 = i2;
              best_k = k;
            }
          }
        }
      }
      if (besti1 < 0 || besti2 < 0 || best_k < 0) {
        scales[ib] = 0;
        shifts[ib] = 0;
        continue;
      }
      for (int j = 0; j < besti1; ++j) L[idx[j]] = 0;
      for (int j = besti1; j < besti2; ++j) L[idx[j]] = 1;
      for (int j = besti2; j < bs; ++j) L[idx[j]] = 2;
      if (scale < 0) {
        for (int j = 0; j < bs; ++j) L[j] = static_cast<int8_t>(2 - L[j]);
        scale = -scale;
        best_k = 3 - best_k;
      }
      bool all_on_grid = true;
      for (int k = 0; k < bs / 8; ++k) {
        const uint32_t key = pack_key(lat, L + 8 * k);
        int gi = lat.map[key];
        if (gi < 0) {
          all_on_grid = false;
          gi = iq1_best_neighbour(lat, key, xb + 8 * k, weight + 8 * k, scale, shift_set(best_k, k), L + 8 * k);
        }
        index[k] = static_cast<uint16_t>(gi);
      }
      if (!all_on_grid) {
        float sumqx = 0, sumq2 = 0;
        for (int k = 0; k < bs / 8; ++k) {
          const float* xx = shift_set(best_k, k);
          const int8_t* pg = lat.point(index[k]);
          for (int j = 0; j < 8; ++j) {
            const float w = weight[8 * k + j];
            const float q = xx[(pg[j] - 1) / 2];
            sumqx += w * q * xb[8 * k + j];
            sumq2 += w * q * q;
          }
        }
        if (sumqx > 0 && sumq2 > 0) scale = sumqx / sumq2;
      }
      y[ibl].qs[2 * ib + 0] = static_cast<uint8_t>(index[0] & 255);
      y[ibl].qs[2 * ib + 1] = static_cast<uint8_t>(index[1] & 255);
      y[ibl].qh[ib] = static_cast<uint8_t>((index[0] >> 8) | ((index[1] >> 8) << 4));
      scales[ib] = scale;
      shifts[ib] = static_cast<int8_t>(best_k);
      max_scale = std::max(max_scale, scale);
    }
    if (!max_scale) continue;
    uint16_t sc[4] = {};
    float d = max_scale / 15;
    const float id = 1 / d;
    float sumqx_f = 0, sumq2_f = 0;
    for (int ib = 0; ib < QK_K / bs; ++ib) {
      const int l = scale_code(id, scales[ib], 7);
      sc[ib / 4] = static_cast<uint16_t>(sc[ib / 4] | (l << 3 * (ib % 4)));
      y[ibl].qh[ib] = static_cast<uint8_t>(y[ibl].qh[ib] | masks[shifts[ib]]);
      const float* xb = xbl + bs * ib;
      weights_of(ib, xb);
      for (int k = 0; k < bs / 8; ++k) {
        const float* xx = shift_set(shifts[ib], k);
        const int8_t* pg = lat.point(y[ibl].qs[2 * ib + k] + ((y[ibl].qh[ib] << (8 - 4 * k)) & 0x700));
        for (int j = 0; j < 8; ++j) {
          const float w = weight[8 * k + j];
          const float q = xx[(pg[j] - 1) / 2] * (2 * l + 1);
          sumqx_f += w * q * xb[8 * k + j];
          sumq2_f += w * q * q;
        }
      }
    }
    if (sumq2_f > 0) d = sumqx_f / sumq2_f;
    const uint16_t s = f32_to_f16(d * 1.1125f);
    sc[0] = static_cast<uint16_t>(sc[0] | ((s & 0x000f) << 12));
    sc[1] = static_cast<uint16_t>(sc[1] | ((s & 0x00f0) << 8));
    sc[2] = static_cast<uint16_t>(sc[2] | ((s & 0x0f00) << 4));
    sc[3] = static_cast<uint16_t>(sc[3] | (s & 0xf000));
    std::memcpy(y[ibl].scales, sc, sizeof(sc));
  }
}

// ---------------------------------------------------------------- dequantization (scalar reference)
namespace {

template <typename T>
const uint8_t* lanes_of(const T* grid, int index) {
  return reinterpret_cast<const uint8_t*>(grid + index);
}

float sign_of(uint8_t signs, int j) { return signs & (1u << j) ? -1.f : 1.f; }

}  // namespace

void dequantize_row_iq2_xxs(const block_iq2_xxs* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int ib32 = 0; ib32 < QK_K / 32; ++ib32) {
      uint32_t aux32[2];
      std::memcpy(aux32, x[i].qs + 4 * ib32, sizeof(aux32));
      const float db = d * (0.5f + static_cast<float>(aux32[1] >> 28)) * 0.25f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t* grid = lanes_of(kIq2xxsGrid, (aux32[0] >> 8 * l) & 255);
        const uint8_t signs = iq2_signs((aux32[1] >> 7 * l) & 127);
        for (int j = 0; j < 8; ++j) y[j] = db * grid[j] * sign_of(signs, j);
      }
    }
  }
}

void dequantize_row_iq2_xs(const block_iq2_xs* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int ib32 = 0; ib32 < QK_K / 32; ++ib32) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib32] & 0xf)) * 0.25f, d * (0.5f + (x[i].scales[ib32] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint16_t q = x[i].qs[4 * ib32 + l];
        const uint8_t* grid = lanes_of(kIq2xsGrid, q & 511);
        const uint8_t signs = iq2_signs(q >> 9);
        for (int j = 0; j < 8; ++j) y[j] = db[l / 2] * grid[j] * sign_of(signs, j);
      }
    }
  }
}

void dequantize_row_iq2_s(const block_iq2_s* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* signs = qs + QK_K / 8;
    for (int ib32 = 0; ib32 < QK_K / 32; ++ib32, qs += 4, signs += 4) {
      const float db[2] = {d * (0.5f + (x[i].scales[ib32] & 0xf)) * 0.25f, d * (0.5f + (x[i].scales[ib32] >> 4)) * 0.25f};
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t* grid = lanes_of(kIq2sGrid, qs[l] | ((x[i].qh[ib32] << (8 - 2 * l)) & 0x300));
        for (int j = 0; j < 8; ++j) y[j] = db[l / 2] * grid[j] * sign_of(signs[l], j);
      }
    }
  }
}

void dequantize_row_iq3_xxs(const block_iq3_xxs* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    const uint8_t* scales_and_signs = qs + QK_K / 4;
    for (int ib32 = 0; ib32 < QK_K / 32; ++ib32, qs += 8) {
      uint32_t aux32;
      std::memcpy(&aux32, scales_and_signs + 4 * ib32, sizeof(aux32));
      const float db = d * (0.5f + static_cast<float>(aux32 >> 28)) * 0.5f;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t signs = iq2_signs((aux32 >> 7 * l) & 127);
        const uint8_t* g1 = lanes_of(kIq3xxsGrid, qs[2 * l]);
        const uint8_t* g2 = lanes_of(kIq3xxsGrid, qs[2 * l + 1]);
        for (int j = 0; j < 4; ++j) {
          y[j] = db * g1[j] * sign_of(signs, j);
          y[j + 4] = db * g2[j] * sign_of(signs, j + 4);
        }
      }
    }
  }
}

void dequantize_row_iq3_s(const block_iq3_s* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    for (int ib32 = 0; ib32 < QK_K / 32; ++ib32) {
      const uint8_t sc = x[i].scales[ib32 / 2];
      const float db = d * static_cast<float>(1 + 2 * (ib32 % 2 ? sc >> 4 : sc & 0xf));
      const uint8_t* qs = x[i].qs + 8 * ib32;
      const uint8_t qh = x[i].qh[ib32];
      const uint8_t* signs = x[i].signs + 4 * ib32;
      for (int l = 0; l < 4; ++l, y += 8) {
        const uint8_t* g1 = lanes_of(kIq3sGrid, qs[2 * l] | ((qh << (8 - 2 * l)) & 256));
        const uint8_t* g2 = lanes_of(kIq3sGrid, qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256));
        for (int j = 0; j < 4; ++j) {
          y[j] = db * g1[j] * sign_of(signs[l], j);
          y[j + 4] = db * g2[j] * sign_of(signs[l], j + 4);
        }
      }
    }
  }
}

void dequantize_row_iq1_s(const block_iq1_s* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    const float d = f16_to_f32(x[i].d);
    const uint8_t* qs = x[i].qs;
    for (int ib = 0; ib < QK_K / 32; ++ib, qs += 4) {
      const uint16_t qh = x[i].qh[ib];
      const float dl = d * static_cast<float>(2 * ((qh >> 12) & 7) + 1);
      const float delta = qh & 0x8000 ? -kIq1Delta : kIq1Delta;
      for (int l = 0; l < 4; ++l, y += 8) {
        const auto* grid = reinterpret_cast<const int8_t*>(kIq1sGrid + (qs[l] | (((qh >> 3 * l) & 7) << 8)));
        for (int j = 0; j < 8; ++j) y[j] = dl * (grid[j] + delta);
      }
    }
  }
}

void dequantize_row_iq1_m(const block_iq1_m* x, float* y, int64_t k) {
  for (int64_t i = 0; i < k / QK_K; ++i) {
    uint16_t sc[4];
    std::memcpy(sc, x[i].scales, sizeof(sc));
    const uint16_t u16 = static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
    const float d = f16_to_f32(u16);
    const uint8_t* qs = x[i].qs;
    const uint8_t* qh = x[i].qh;
    for (int ib = 0; ib < QK_K / 32; ++ib, qs += 4, qh += 2) {
      const float dl1 = d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 0x7) + 1);
      const float dl2 = d * static_cast<float>(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 0x7) + 1);
      const int idx[4] = {qs[0] | ((qh[0] << 8) & 0x700), qs[1] | ((qh[0] << 4) & 0x700), qs[2] | ((qh[1] << 8) & 0x700),
                          qs[3] | ((qh[1] << 4) & 0x700)};
      const float delta[4] = {qh[0] & 0x08 ? -kIq1Delta : kIq1Delta, qh[0] & 0x80 ? -kIq1Delta : kIq1Delta,
                              qh[1] & 0x08 ? -kIq1Delta : kIq1Delta, qh[1] & 0x80 ? -kIq1Delta : kIq1Delta};
      for (int l = 0; l < 4; ++l, y += 8) {
        const auto* grid = reinterpret_cast<const int8_t*>(kIq1sGrid + idx[l]);
        const float dl = l < 2 ? dl1 : dl2;
        for (int j = 0; j < 8; ++j) y[j] = dl * (grid[j] + delta[l]);
      }
    }
  }
}

}  // namespace lp::quant
