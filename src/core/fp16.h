// Scalar conversions between float and the 16-bit / 8-bit float encodings found in checkpoints
// and ggml blocks. Bit-exact with ggml's reference conversions (round-to-nearest-even).
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace lp {

inline float bf16_to_f32(uint16_t h) { return std::bit_cast<float>(static_cast<uint32_t>(h) << 16); }

inline uint16_t f32_to_bf16(float f) {
  uint32_t u = std::bit_cast<uint32_t>(f);
  if ((u & 0x7fffffff) > 0x7f800000) return static_cast<uint16_t>((u >> 16) | 64);  // quiet NaN
  u += 0x7fff + ((u >> 16) & 1);
  return static_cast<uint16_t>(u >> 16);
}

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f;
  uint32_t mant = h & 0x3ff;
  uint32_t bits;
  if (exp == 0) {
    if (mant == 0) {
      bits = sign;
    } else {  // subnormal: normalise
      int e = -1;
      do {
        ++e;
        mant <<= 1;
      } while ((mant & 0x400) == 0);
      bits = sign | static_cast<uint32_t>(127 - 15 - e) << 23 | (mant & 0x3ff) << 13;
    }
  } else if (exp == 0x1f) {
    bits = sign | 0x7f800000 | (mant << 13);
  } else {
    bits = sign | (exp + 127 - 15) << 23 | (mant << 13);
  }
  return std::bit_cast<float>(bits);
}

inline uint16_t f32_to_f16(float f) {
  const uint32_t x = std::bit_cast<uint32_t>(f);
  const uint32_t sign = (x >> 16) & 0x8000;
  const uint32_t abs = x & 0x7fffffff;
  if (abs > 0x7f800000) return static_cast<uint16_t>(sign | 0x7e00);  // NaN
  if (abs >= 0x477ff000) return static_cast<uint16_t>(sign | 0x7c00);  // overflow -> inf
  if (abs < 0x38800000) {  // result is subnormal or zero
    if (abs < 0x33000000) return static_cast<uint16_t>(sign);
    const uint32_t e = abs >> 23;
    const uint32_t m = (abs & 0x7fffff) | 0x800000;
    const uint32_t shift = 126 - e;  // 14..24
    uint32_t r = m >> shift;
    const uint32_t rem = m & ((1u << shift) - 1);
    const uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (r & 1))) ++r;
    return static_cast<uint16_t>(sign | r);
  }
  uint32_t r = abs - (112u << 23);  // rebias exponent
  r += 0xfff + ((r >> 13) & 1);     // round to nearest even
  return static_cast<uint16_t>(sign | (r >> 13));
}

// E8M0 (MXFP4 block scale): 2^(e-127). Value 0xff is NaN in the OCP spec.
inline float e8m0_to_f32(uint8_t e) {
  if (e == 0) return std::bit_cast<float>(0x00400000u);  // 2^-127, subnormal
  return std::bit_cast<float>(static_cast<uint32_t>(e) << 23);
}

// ggml stores the MXFP4 scale as E8M0 but uses half of it (values are stored doubled in kvalues_mxfp4).
inline float e8m0_to_f32_half(uint8_t e) {
  if (e < 2) return std::bit_cast<float>(0x00200000u << e);
  return std::bit_cast<float>(static_cast<uint32_t>(e - 1) << 23);
}

// FP8 E4M3 (finite-only variant used by checkpoints, "e4m3fn").
inline float fp8_e4m3_to_f32(uint8_t v) {
  const uint32_t sign = v >> 7;
  const uint32_t exp = (v >> 3) & 0xf;
  const uint32_t mant = v & 0x7;
  float out;
  if (exp == 0xf && mant == 0x7) {
    out = std::nanf("");
  } else if (exp == 0) {
    out = std::ldexp(static_cast<float>(mant) / 8.0f, -6);
  } else {
    out = std::ldexp(1.0f + static_cast<float>(mant) / 8.0f, static_cast<int>(exp) - 7);
  }
  return sign ? -out : out;
}

}  // namespace lp
