// MXFP4 (OCP microscaling FP4) encoding of 32-value blocks, laid out as the gpt-oss release stores experts:
// 16 bytes of E2M1 codes (element 2k in the low nibble, 2k+1 in the high nibble) and one E8M0 scale byte.
#pragma once
#include <cstdint>

namespace lp::testgen {

inline constexpr int kMxfp4Block = 32;

// E2M1 magnitudes for codes 0..7; code | 8 is the negative.
inline constexpr float kE2M1Values[8] = {0.0f, 0.5f, 1.0f, 1.5f, 2.0f, 3.0f, 4.0f, 6.0f};

// Shared exponent as in the OCP spec: 2^(floor(log2(amax)) - 2), so amax maps into [4, 8) (clamped to 6).
void encode_mxfp4_block(const float* x, uint8_t* codes16, uint8_t* scale_e8m0);

// Decodes one block back to floats: value = E2M1(code) * 2^(scale - 127).
void decode_mxfp4_block(const uint8_t* codes16, uint8_t scale_e8m0, float* out);

}  // namespace lp::testgen
