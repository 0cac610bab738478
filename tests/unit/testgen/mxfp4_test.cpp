#include "testgen/mxfp4_encode.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "testgen/random.h"

namespace lp::testgen {
namespace {

TEST(Mxfp4Encode, RepresentableValuesRoundTripExactlyWithLowNibbleFirst) {
  // amax 6 * 2^-3 -> shared exponent floor(log2(0.75)) - 2 = -3, scale byte 124.
  float x[32];
  for (int i = 0; i < 32; ++i) {
    const float mag = kE2M1Values[i % 8];
    x[i] = std::ldexp(i % 3 == 0 ? -mag : mag, -3);
  }
  x[0] = 0.0f;
  x[1] = 0.5f * 0.125f;   // code 1
  x[2] = -6.0f * 0.125f;  // code 15
  x[3] = 3.0f * 0.125f;   // code 5
  uint8_t codes[16], scale = 0;
  encode_mxfp4_block(x, codes, &scale);
  EXPECT_EQ(scale, 127 - 3);
  EXPECT_EQ(codes[0], 0x10);  // element 0 (code 0) low nibble, element 1 (code 1) high nibble
  EXPECT_EQ(codes[1], 0x5F);  // element 2 = -6 -> 0xF low, element 3 = 3 -> 0x5 high
  float back[32];
  decode_mxfp4_block(codes, scale, back);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(back[i], x[i]) << i;
}

TEST(Mxfp4Encode, RoundsToNearestGridPointWithinHalfAStep) {
  NormalSampler normal(9);
  for (int block = 0; block < 2000; ++block) {
    float x[32];
    for (float& v : x) v = static_cast<float>(0.02 * normal.next());
    uint8_t codes[16], scale = 0;
    encode_mxfp4_block(x, codes, &scale);
    float back[32];
    decode_mxfp4_block(codes, scale, back);
    const float unit = std::ldexp(1.0f, static_cast<int>(scale) - 127);  // value of E2M1 "1.0"
    float amax = 0;
    for (float v : x) amax = std::max(amax, std::fabs(v));
    ASSERT_GE(amax / unit, 4.0f);  // the shared exponent maps amax into [4, 8)
    ASSERT_LT(amax / unit, 8.0f);
    for (int i = 0; i < 32; ++i) {
      const float a = std::fabs(x[i]) / unit;
      const float step = a < 2.0f ? 0.5f : a < 4.0f ? 1.0f : 2.0f;  // E2M1 grid spacing around a
      if (a <= 6.0f) ASSERT_LE(std::fabs(back[i] - x[i]), 0.5f * step * unit * 1.0001f) << block << ":" << i;
      else ASSERT_EQ(std::fabs(back[i]), 6.0f * unit);  // clamped to the largest E2M1 value
      ASSERT_TRUE(back[i] == 0.0f || std::signbit(back[i]) == std::signbit(x[i]));
    }
  }
}

TEST(Mxfp4Encode, ZeroBlockHasZeroCodes) {
  float x[32] = {};
  uint8_t codes[16], scale = 77;
  encode_mxfp4_block(x, codes, &scale);
  for (uint8_t c : codes) EXPECT_EQ(c, 0);
  EXPECT_EQ(scale, 0);
}

}  // namespace
}  // namespace lp::testgen
