// Unpacking of the packed sub-block scales of the K-quants (shared by scalar and SIMD kernels).
// always_inline: GCC does not otherwise inline these default-target functions into the
// per-ISA (target-attributed) kernels, leaving a call (and vzeroupper) per super-block.
#pragma once
#include <cstdint>
#include <cstring>

namespace lp::kernels {

// Q4_K / Q5_K: 12 bytes -> 8 six-bit scales and 8 six-bit mins (ggml get_scale_min_k4).
[[gnu::always_inline]] inline void unpack_q4k_scales(const uint8_t* s, uint8_t sc[8], uint8_t mn[8]) {
  for (int j = 0; j < 4; ++j) {
    sc[j] = s[j] & 63;
    mn[j] = s[j + 4] & 63;
  }
  for (int j = 4; j < 8; ++j) {
    sc[j] = static_cast<uint8_t>((s[j + 4] & 0xF) | ((s[j - 4] >> 6) << 4));
    mn[j] = static_cast<uint8_t>((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
  }
}

// Q4_K / Q5_K, branch-free: out[0..7] = scales, out[8..15] = mins (same values as above).
[[gnu::always_inline]] inline void unpack_q4k_scales_mins(const uint8_t* s, uint8_t out[16]) {
  constexpr uint32_t kmask1 = 0x3f3f3f3f, kmask2 = 0x0f0f0f0f, kmask3 = 0x03030303;
  uint32_t u[4];
  std::memcpy(u, s, 12);
  u[3] = ((u[2] >> 4) & kmask2) | (((u[1] >> 6) & kmask3) << 4);
  const uint32_t mins_lo = u[1] & kmask1;
  u[1] = (u[2] & kmask2) | (((u[0] >> 6) & kmask3) << 4);
  u[2] = mins_lo;
  u[0] &= kmask1;
  std::memcpy(out, u, 16);
}

// Q3_K: 12 bytes -> 16 six-bit scales, returned with the -32 offset applied.
[[gnu::always_inline]] inline void unpack_q3k_scales(const uint8_t* s, int8_t out[16]) {
  uint32_t aux[4];
  std::memcpy(aux, s, 12);
  constexpr uint32_t kmask1 = 0x03030303, kmask2 = 0x0f0f0f0f;
  const uint32_t tmp = aux[2];
  aux[2] = ((aux[0] >> 4) & kmask2) | (((tmp >> 4) & kmask1) << 4);
  aux[3] = ((aux[1] >> 4) & kmask2) | (((tmp >> 6) & kmask1) << 4);
  aux[0] = (aux[0] & kmask2) | (((tmp >> 0) & kmask1) << 4);
  aux[1] = (aux[1] & kmask2) | (((tmp >> 2) & kmask1) << 4);
  uint8_t u[16];
  std::memcpy(u, aux, 16);
  for (int i = 0; i < 16; ++i) out[i] = static_cast<int8_t>(u[i] - 32);
}

// IQ4_XS: six-bit scale of sub-block ib (0..7), with the -32 offset applied.
[[gnu::always_inline]] inline int iq4xs_scale(uint16_t scales_h, const uint8_t* scales_l, int ib) {
  const int ls = ((scales_l[ib / 2] >> (4 * (ib % 2))) & 0xF) | (((scales_h >> (2 * ib)) & 3) << 4);
  return ls - 32;
}

}  // namespace lp::kernels

namespace lp::kernels {

// pshufb indices selecting int16 lane a (bytes 2a, 2a+1) in the low 128 bits and lane b in the
// high 128 bits of a 256-bit vector (PickScales in dot_kquants-inl.h).
struct ScalePairIndex {
  alignas(32) int16_t v[8][8][16];
};
inline constexpr ScalePairIndex kScalePairIndex = [] {
  ScalePairIndex t{};
  for (int a = 0; a < 8; ++a) {
    for (int b = 0; b < 8; ++b) {
      for (int l = 0; l < 16; ++l) {
        const int lane = l < 8 ? a : b;
        t.v[a][b][l] = static_cast<int16_t>((2 * lane) | ((2 * lane + 1) << 8));
      }
    }
  }
  return t;
}();

}  // namespace lp::kernels
