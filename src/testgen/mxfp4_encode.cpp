#include "testgen/mxfp4_encode.h"

#include <algorithm>
#include <cmath>

namespace lp::testgen {
namespace {

uint8_t e2m1_code(float y) {  // y = x / scale; nearest E2M1 value, ties away from zero
  const float a = std::fabs(y);
  uint8_t mag;
  if (a < 0.25f) return 0;  // no negative zero
  if (a < 0.75f) mag = 1;
  else if (a < 1.25f) mag = 2;
  else if (a < 1.75f) mag = 3;
  else if (a < 2.5f) mag = 4;
  else if (a < 3.5f) mag = 5;
  else if (a < 5.0f) mag = 6;
  else mag = 7;
  return static_cast<uint8_t>(y < 0.0f ? mag | 8 : mag);
}

}  // namespace

void encode_mxfp4_block(const float* x, uint8_t* codes16, uint8_t* scale_e8m0) {
  float amax = 0.0f;
  for (int i = 0; i < kMxfp4Block; ++i) amax = std::max(amax, std::fabs(x[i]));
  int shared_exp = -127;
  if (amax > 0.0f) {
    int e = 0;
    std::frexp(amax, &e);  // amax = m * 2^e, m in [0.5, 1): floor(log2(amax)) = e - 1
    shared_exp = std::clamp(e - 1 - 2, -127, 127);
  }
  *scale_e8m0 = static_cast<uint8_t>(shared_exp + 127);
  for (int k = 0; k < kMxfp4Block / 2; ++k) {
    const uint8_t lo = e2m1_code(std::ldexp(x[2 * k], -shared_exp));
    const uint8_t hi = e2m1_code(std::ldexp(x[2 * k + 1], -shared_exp));
    codes16[k] = static_cast<uint8_t>(lo | (hi << 4));
  }
}

void decode_mxfp4_block(const uint8_t* codes16, uint8_t scale_e8m0, float* out) {
  const int shared_exp = static_cast<int>(scale_e8m0) - 127;
  for (int k = 0; k < kMxfp4Block / 2; ++k) {
    for (int half = 0; half < 2; ++half) {
      const uint8_t code = half ? (codes16[k] >> 4) : (codes16[k] & 0xf);
      const float mag = kE2M1Values[code & 7];
      out[2 * k + half] = std::ldexp(code & 8 ? -mag : mag, shared_exp);
    }
  }
}

}  // namespace lp::testgen
