// Unpacking of one i-quant super-block (IQ1_S, IQ1_M, IQ2_XXS, IQ2_XS, IQ2_S, IQ3_XXS, IQ3_S) into signed
// 8-bit codes and integer scales, so one integer dot product serves every i-quant:
//   Σ_j w_j·x_j over the 256 values = factor · d · Σ_g scale16[g] · Σ_{j in group g of 16} code_j · q8_j
// (q8: the Q8_K activation codes, whose own scale multiplies in separately). Codes are the grid values with
// their signs (|code| <= 62); IQ1's offsets ±1/8 are folded in as code = 8·grid ± 1 with factor 1/8, exact
// in integers. This is ggml's vec_dot_iq*_q8_K math regrouped; the scalar kernels and the SIMD kernels both
// use it, and the tests check it against quant::dequantize_row.
#pragma once
#include <cstdint>
#include <cstring>

#include "core/fp16.h"
#include "quant/blocks.h"
#include "quant/iq_grids.h"

namespace lp::kernels {

struct IqUnpacked {
  alignas(32) int8_t code[quant::QK_K];
  int16_t scale16[quant::QK_K / 16];
  float d;  // super-block scale times the type's constant factor
};

namespace iq_detail {

// 0xff in byte j where bit j of the index is set.
struct SignMasks {
  uint64_t m[256];
  constexpr SignMasks() : m() {
    for (int s = 0; s < 256; ++s)
      for (int j = 0; j < 8; ++j)
        if (s >> j & 1) m[s] |= 0xffull << (8 * j);
  }
};
inline constexpr SignMasks kSignMasks{};

// Byte j of the result = -grid byte j where sign bit j is set. Grid bytes are in 1..62, so the bytewise
// negation (~g + 1) never carries into the next byte.
inline uint64_t apply_signs(uint64_t grid, uint8_t signs) {
  const uint64_t m = kSignMasks.m[signs];
  return (grid ^ m) + (m & 0x0101010101010101ull);
}

inline void put8(int8_t* dst, uint64_t v) { std::memcpy(dst, &v, 8); }

inline uint64_t grid4x2(const uint32_t* grid, int a, int b) {
  return static_cast<uint64_t>(grid[a]) | (static_cast<uint64_t>(grid[b]) << 32);
}

inline void scales32(int16_t* s16, int ib, int v) { s16[2 * ib] = s16[2 * ib + 1] = static_cast<int16_t>(v); }

// IQ1: code = 8·grid + delta (delta ±1), per group of 8.
inline void iq1_group(int8_t* dst, int index, int delta) {
  const auto* g = reinterpret_cast<const int8_t*>(quant::kIq1sGrid + index);
  for (int j = 0; j < 8; ++j) dst[j] = static_cast<int8_t>(8 * g[j] + delta);
}

}  // namespace iq_detail

inline void unpack_iq2_xxs(const quant::block_iq2_xxs& b, IqUnpacked& u) {
  using namespace iq_detail;
  u.d = 0.125f * f16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    uint32_t aux[2];
    std::memcpy(aux, b.qs + 4 * ib, 8);
    scales32(u.scale16, ib, 2 * static_cast<int>(aux[1] >> 28) + 1);
    for (int l = 0; l < 4; ++l)
      put8(u.code + 32 * ib + 8 * l,
           apply_signs(quant::kIq2xxsGrid[(aux[0] >> 8 * l) & 255], quant::iq2_signs((aux[1] >> 7 * l) & 127)));
  }
}

inline void unpack_iq2_xs(const quant::block_iq2_xs& b, IqUnpacked& u) {
  using namespace iq_detail;
  u.d = 0.125f * f16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    u.scale16[2 * ib] = static_cast<int16_t>(2 * (b.scales[ib] & 0xf) + 1);
    u.scale16[2 * ib + 1] = static_cast<int16_t>(2 * (b.scales[ib] >> 4) + 1);
    for (int l = 0; l < 4; ++l) {
      const uint16_t q = b.qs[4 * ib + l];
      put8(u.code + 32 * ib + 8 * l, apply_signs(quant::kIq2xsGrid[q & 511], quant::iq2_signs(q >> 9)));
    }
  }
}

inline void unpack_iq2_s(const quant::block_iq2_s& b, IqUnpacked& u) {
  using namespace iq_detail;
  u.d = 0.125f * f16_to_f32(b.d);
  const uint8_t* signs = b.qs + quant::QK_K / 8;
  for (int ib = 0; ib < 8; ++ib) {
    u.scale16[2 * ib] = static_cast<int16_t>(2 * (b.scales[ib] & 0xf) + 1);
    u.scale16[2 * ib + 1] = static_cast<int16_t>(2 * (b.scales[ib] >> 4) + 1);
    for (int l = 0; l < 4; ++l) {
      const int index = b.qs[4 * ib + l] | ((b.qh[ib] << (8 - 2 * l)) & 0x300);
      put8(u.code + 32 * ib + 8 * l, apply_signs(quant::kIq2sGrid[index], signs[4 * ib + l]));
    }
  }
}

inline void unpack_iq3_xxs(const quant::block_iq3_xxs& b, IqUnpacked& u) {
  using namespace iq_detail;
  u.d = 0.25f * f16_to_f32(b.d);
  const uint8_t* qs = b.qs;
  for (int ib = 0; ib < 8; ++ib) {
    uint32_t aux;
    std::memcpy(&aux, b.qs + quant::QK_K / 4 + 4 * ib, 4);
    scales32(u.scale16, ib, 2 * static_cast<int>(aux >> 28) + 1);
    for (int l = 0; l < 4; ++l)
      put8(u.code + 32 * ib + 8 * l,
           apply_signs(grid4x2(quant::kIq3xxsGrid, qs[8 * ib + 2 * l], qs[8 * ib + 2 * l + 1]),
                       quant::iq2_signs((aux >> 7 * l) & 127)));
  }
}

inline void unpack_iq3_s(const quant::block_iq3_s& b, IqUnpacked& u) {
  using namespace iq_detail;
  u.d = f16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    const uint8_t sc = b.scales[ib / 2];
    scales32(u.scale16, ib, 1 + 2 * (ib % 2 ? sc >> 4 : sc & 0xf));
    const uint8_t* qs = b.qs + 8 * ib;
    const int qh = b.qh[ib];
    for (int l = 0; l < 4; ++l) {
      const int i1 = qs[2 * l] | ((qh << (8 - 2 * l)) & 256), i2 = qs[2 * l + 1] | ((qh << (7 - 2 * l)) & 256);
      put8(u.code + 32 * ib + 8 * l, apply_signs(grid4x2(quant::kIq3sGrid, i1, i2), b.signs[4 * ib + l]));
    }
  }
}

inline void unpack_iq1_s(const quant::block_iq1_s& b, IqUnpacked& u) {
  using namespace iq_detail;
  u.d = 0.125f * f16_to_f32(b.d);
  for (int ib = 0; ib < 8; ++ib) {
    const int qh = b.qh[ib];
    scales32(u.scale16, ib, 2 * ((qh >> 12) & 7) + 1);
    const int delta = qh & 0x8000 ? -1 : 1;
    for (int l = 0; l < 4; ++l) iq1_group(u.code + 32 * ib + 8 * l, b.qs[4 * ib + l] | (((qh >> 3 * l) & 7) << 8), delta);
  }
}

inline void unpack_iq1_m(const quant::block_iq1_m& b, IqUnpacked& u) {
  using namespace iq_detail;
  uint16_t sc[4];
  std::memcpy(sc, b.scales, sizeof(sc));
  const auto bits =
      static_cast<uint16_t>((sc[0] >> 12) | ((sc[1] >> 8) & 0x00f0) | ((sc[2] >> 4) & 0x0f00) | (sc[3] & 0xf000));
  u.d = 0.125f * f16_to_f32(bits);
  for (int ib = 0; ib < 8; ++ib) {
    u.scale16[2 * ib] = static_cast<int16_t>(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 0)) & 7) + 1);
    u.scale16[2 * ib + 1] = static_cast<int16_t>(2 * ((sc[ib / 2] >> (6 * (ib % 2) + 3)) & 7) + 1);
    const uint8_t* qs = b.qs + 4 * ib;
    const uint8_t* qh = b.qh + 2 * ib;
    for (int l = 0; l < 4; ++l) {
      const int h = qh[l / 2] >> (4 * (l % 2));
      iq1_group(u.code + 32 * ib + 8 * l, qs[l] | ((h & 7) << 8), h & 8 ? -1 : 1);
    }
  }
}

// Unpacks super-block i of a row of `type` (one of the seven i-quants).
inline void unpack_iq(GgmlType type, const void* row, int64_t i, IqUnpacked& u) {
  switch (type) {
    case GgmlType::IQ2_XXS: return unpack_iq2_xxs(static_cast<const quant::block_iq2_xxs*>(row)[i], u);
    case GgmlType::IQ2_XS: return unpack_iq2_xs(static_cast<const quant::block_iq2_xs*>(row)[i], u);
    case GgmlType::IQ2_S: return unpack_iq2_s(static_cast<const quant::block_iq2_s*>(row)[i], u);
    case GgmlType::IQ3_XXS: return unpack_iq3_xxs(static_cast<const quant::block_iq3_xxs*>(row)[i], u);
    case GgmlType::IQ3_S: return unpack_iq3_s(static_cast<const quant::block_iq3_s*>(row)[i], u);
    case GgmlType::IQ1_S: return unpack_iq1_s(static_cast<const quant::block_iq1_s*>(row)[i], u);
    case GgmlType::IQ1_M: return unpack_iq1_m(static_cast<const quant::block_iq1_m*>(row)[i], u);
    default: return;
  }
}

}  // namespace lp::kernels
