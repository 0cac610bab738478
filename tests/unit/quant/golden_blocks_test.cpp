// Hand-derived goldens: exact bytes for inputs whose quantization can be worked out on paper, and
// dequantization of blocks assembled field by field from the documented ggml layouts.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/fp16.h"
#include "quant/blocks.h"
#include "quant/quantize.h"
#include "quant/rows.h"

namespace lp::quant {
namespace {

template <typename Block>
std::vector<uint8_t> bytes_of(const Block& b) {
  std::vector<uint8_t> v(sizeof(Block));
  std::memcpy(v.data(), &b, sizeof(Block));
  return v;
}

TEST(Golden, Q8_0Ramp) {
  // x_j = (127 - 8j)/2: amax 63.5 -> d = 0.5 exactly (fp16 0x3800), codes 127 - 8j.
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = (127.0f - 8.0f * j) / 2.0f;
  block_q8_0 b{};
  ASSERT_EQ(quantize(GgmlType::Q8_0, x, &b, 1, 32), sizeof(block_q8_0));
  const auto raw = bytes_of(b);
  EXPECT_EQ(raw[0], 0x00);  // d, little-endian fp16, first
  EXPECT_EQ(raw[1], 0x38);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(static_cast<int8_t>(raw[2 + j]), 127 - 8 * j) << j;
  float back[32];
  dequantize_row(GgmlType::Q8_0, &b, back, 32);
  for (int j = 0; j < 32; ++j) EXPECT_EQ(back[j], x[j]);
}

TEST(Golden, Q4_0Constants) {
  // A constant c: max = c, d = c/-8, every code is trunc(-8 + 8.5) = 0, value (0-8)*d = c.
  for (float c : {2.0f, -2.0f}) {
    std::vector<float> x(32, c);
    block_q4_0 b{};
    quantize(GgmlType::Q4_0, x.data(), &b, 1, 32);
    const auto raw = bytes_of(b);
    EXPECT_EQ(raw[0], 0x00);
    EXPECT_EQ(raw[1], c > 0 ? 0xB4 : 0x34);  // d = -0.25 / +0.25
    for (int j = 0; j < 16; ++j) EXPECT_EQ(raw[2 + j], 0x00);
    float back[32];
    dequantize_row(GgmlType::Q4_0, &b, back, 32);
    for (float v : back) EXPECT_EQ(v, c);
  }
}

TEST(Golden, Q4_0NibbleOrder) {
  // x_0 = -8 sets d = 1; x_j = j - 8 and x_{16+j} = 7 - j give codes j and 15 - j.
  float x[32];
  for (int j = 0; j < 16; ++j) {
    x[j] = static_cast<float>(j - 8);
    x[16 + j] = static_cast<float>(7 - j);
  }
  block_q4_0 b{};
  quantize(GgmlType::Q4_0, x, &b, 1, 32);
  EXPECT_EQ(b.d, 0x3C00);
  for (int j = 0; j < 16; ++j) EXPECT_EQ(b.qs[j], j | ((15 - j) << 4)) << j;  // low = j, high = j + 16
}

TEST(Golden, F16AndBf16Bytes) {
  const float x[4] = {1.0f, -2.5f, 65504.0f, 1.00390625f};
  uint16_t h[4], bf[4];
  quantize(GgmlType::F16, x, h, 1, 4);
  quantize(GgmlType::BF16, x, bf, 1, 4);
  EXPECT_EQ(h[0], 0x3C00);
  EXPECT_EQ(h[1], 0xC100);
  EXPECT_EQ(h[2], 0x7BFF);
  EXPECT_EQ(h[3], 0x3C04);  // 1 + 2^-8 is exact in fp16 (10 mantissa bits)
  EXPECT_EQ(bf[0], 0x3F80);
  EXPECT_EQ(bf[1], 0xC020);
  EXPECT_EQ(bf[2], 0x4780);  // 65504 -> 65536 in bf16
  EXPECT_EQ(bf[3], 0x3F80);  // tie (1 + 2^-8) to even
  float back[4];
  dequantize_row(GgmlType::BF16, bf, back, 4);
  EXPECT_EQ(back[2], 65536.0f);
}

TEST(HandBuilt, Q4_1AndQ5Family) {
  block_q4_1 a{};
  a.d = f32_to_f16(0.5f);
  a.m = f32_to_f16(-1.0f);
  for (int j = 0; j < 16; ++j) a.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[32];
  dequantize_row(GgmlType::Q4_1, &a, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * j - 1.0f);
    EXPECT_EQ(y[16 + j], 0.5f * (15 - j) - 1.0f);
  }
  // Q5_0: element e has code (nibble | bit e of qh << 4), value (code - 16) * d.
  block_q5_0 b{};
  b.d = f32_to_f16(0.25f);
  const uint32_t qh = 0xA5A5F00Fu;
  std::memcpy(b.qh, &qh, 4);
  for (int j = 0; j < 16; ++j) b.qs[j] = static_cast<uint8_t>((j * 5 % 16) | ((j * 3 % 16) << 4));
  dequantize_row(GgmlType::Q5_0, &b, y, 32);
  for (int e = 0; e < 32; ++e) {
    const int nib = e < 16 ? (e * 5 % 16) : ((e - 16) * 3 % 16);
    const int code = nib | (((qh >> e) & 1) << 4);
    EXPECT_EQ(y[e], (code - 16) * 0.25f) << e;
  }
  block_q5_1 c{};
  c.d = f32_to_f16(0.125f);
  c.m = f32_to_f16(0.5f);
  std::memcpy(c.qh, &qh, 4);
  std::memcpy(c.qs, b.qs, 16);
  dequantize_row(GgmlType::Q5_1, &c, y, 32);
  for (int e = 0; e < 32; ++e) {
    const int nib = e < 16 ? (e * 5 % 16) : ((e - 16) * 3 % 16);
    const int code = nib | (((qh >> e) & 1) << 4);
    EXPECT_EQ(y[e], code * 0.125f + 0.5f) << e;
  }
}

// Q4_K/Q5_K 6-bit scales and mins, packed by hand (see blocks.h / ggml-common.h):
//   sc = {1, 2, 3, 4, 17, 33, 50, 63}, m = {0, 1, 2, 3, 20, 40, 5, 63}
constexpr int kSc[8] = {1, 2, 3, 4, 17, 33, 50, 63};
constexpr int kMin[8] = {0, 1, 2, 3, 20, 40, 5, 63};
constexpr uint8_t kPackedScales[12] = {0x41, 0x82, 0xC3, 0xC4, 0x40, 0x81, 0x02, 0xC3, 0x41, 0x81, 0x52, 0xFF};

TEST(HandBuilt, Q4_K) {
  block_q4_K b{};
  b.d = f32_to_f16(1.0f);
  b.dmin = f32_to_f16(0.5f);
  std::memcpy(b.scales, kPackedScales, 12);
  // Chunk c, byte l: low nibble -> element 64c + l (sub-block 2c), high -> 64c + 32 + l (sub-block 2c+1).
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = static_cast<uint8_t>((l % 16) | ((15 - l % 16) << 4));
  std::vector<float> y(256);
  dequantize_row(GgmlType::Q4_K, &b, y.data(), 256);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      EXPECT_EQ(y[64 * c + l], 1.0f * kSc[2 * c] * (l % 16) - 0.5f * kMin[2 * c]) << c << "," << l;
      EXPECT_EQ(y[64 * c + 32 + l], 1.0f * kSc[2 * c + 1] * (15 - l % 16) - 0.5f * kMin[2 * c + 1]) << c << "," << l;
    }
  }
}

TEST(HandBuilt, Q5_K) {
  block_q5_K b{};
  b.d = f32_to_f16(0.5f);
  b.dmin = f32_to_f16(0.25f);
  std::memcpy(b.scales, kPackedScales, 12);
  for (int c = 0; c < 4; ++c)
    for (int l = 0; l < 32; ++l) b.qs[32 * c + l] = static_cast<uint8_t>((l % 16) | ((15 - l % 16) << 4));
  for (int l = 0; l < 32; ++l) b.qh[l] = static_cast<uint8_t>(l * 37 + 11);
  std::vector<float> y(256);
  dequantize_row(GgmlType::Q5_K, &b, y.data(), 256);
  for (int c = 0; c < 4; ++c) {
    for (int l = 0; l < 32; ++l) {
      const int hi_lo = (b.qh[l] >> (2 * c)) & 1, hi_hi = (b.qh[l] >> (2 * c + 1)) & 1;
      EXPECT_EQ(y[64 * c + l], 0.5f * kSc[2 * c] * ((l % 16) + 16 * hi_lo) - 0.25f * kMin[2 * c]);
      EXPECT_EQ(y[64 * c + 32 + l], 0.5f * kSc[2 * c + 1] * ((15 - l % 16) + 16 * hi_hi) - 0.25f * kMin[2 * c + 1]);
    }
  }
}

// Codes for 256 elements and the 2-bit plane packing shared by Q2_K and Q3_K: element e lives in
// byte 32*(e/128) + e%32 at bit 2*((e%128)/32).
void pack_low2(const int* code, uint8_t* qs) {
  std::memset(qs, 0, 64);
  for (int e = 0; e < 256; ++e) qs[32 * (e / 128) + e % 32] |= static_cast<uint8_t>((code[e] & 3) << (2 * ((e % 128) / 32)));
}

TEST(HandBuilt, Q2_K) {
  block_q2_K b{};
  b.d = f32_to_f16(0.5f);
  b.dmin = f32_to_f16(0.125f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<uint8_t>((j % 16) | (((15 - j) % 16) << 4));
  int code[256];
  for (int e = 0; e < 256; ++e) code[e] = (e * 7 + e / 16) % 4;
  pack_low2(code, b.qs);
  std::vector<float> y(256);
  dequantize_row(GgmlType::Q2_K, &b, y.data(), 256);
  for (int e = 0; e < 256; ++e) {
    const int j = e / 16;
    EXPECT_EQ(y[e], 0.5f * j * code[e] - 0.125f * (15 - j)) << e;
  }
}

TEST(HandBuilt, Q3_K) {
  block_q3_K b{};
  b.d = f32_to_f16(0.25f);
  // 6-bit scale s_j (value s_j - 32): low nibble in scales[j] (j < 8) or high nibble of scales[j-8];
  // top two bits in scales[8 + j%4] at bit 2*(j/4).
  int s[16];
  for (int j = 0; j < 16; ++j) s[j] = (j * 13 + 5) % 64;
  for (int j = 0; j < 16; ++j) {
    if (j < 8) b.scales[j] |= static_cast<uint8_t>(s[j] & 0xF);
    else b.scales[j - 8] |= static_cast<uint8_t>((s[j] & 0xF) << 4);
    b.scales[8 + j % 4] |= static_cast<uint8_t>((s[j] >> 4) << (2 * (j / 4)));
  }
  int code[256];  // 3-bit code, value code - 4; the high bit is hmask[e % 32] bit e / 32
  for (int e = 0; e < 256; ++e) code[e] = (e * 5 + 3) % 8;
  pack_low2(code, b.qs);
  for (int e = 0; e < 256; ++e)
    if (code[e] & 4) b.hmask[e % 32] |= static_cast<uint8_t>(1 << (e / 32));
  std::vector<float> y(256);
  dequantize_row(GgmlType::Q3_K, &b, y.data(), 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.25f * (s[e / 16] - 32) * (code[e] - 4)) << e;
}

TEST(HandBuilt, Q6_K) {
  block_q6_K b{};
  b.d = f32_to_f16(0.5f);
  for (int j = 0; j < 16; ++j) b.scales[j] = static_cast<int8_t>(j % 2 ? -(j + 1) : (j * 8));
  int code[256];  // 6-bit, value code - 32
  for (int e = 0; e < 256; ++e) code[e] = (e * 11 + 7) % 64;
  // Per 128-half n and l < 32: elements n*128 + {l, l+32, l+64, l+96} take the low nibble of ql[64n+l],
  // low nibble of ql[64n+32+l], high nibble of ql[64n+l], high nibble of ql[64n+32+l]; their top two bits
  // are qh[32n+l] bits 0-1, 2-3, 4-5, 6-7.
  for (int n = 0; n < 2; ++n) {
    for (int l = 0; l < 32; ++l) {
      const int* c = code + 128 * n + l;
      b.ql[64 * n + l] = static_cast<uint8_t>((c[0] & 0xF) | ((c[64] & 0xF) << 4));
      b.ql[64 * n + 32 + l] = static_cast<uint8_t>((c[32] & 0xF) | ((c[96] & 0xF) << 4));
      b.qh[32 * n + l] = static_cast<uint8_t>((c[0] >> 4) | ((c[32] >> 4) << 2) | ((c[64] >> 4) << 4) | ((c[96] >> 4) << 6));
    }
  }
  std::vector<float> y(256);
  dequantize_row(GgmlType::Q6_K, &b, y.data(), 256);
  for (int e = 0; e < 256; ++e) EXPECT_EQ(y[e], 0.5f * b.scales[e / 16] * (code[e] - 32)) << e;
}

TEST(HandBuilt, Iq4NlAndXs) {
  block_iq4_nl a{};
  a.d = f32_to_f16(0.5f);
  for (int j = 0; j < 16; ++j) a.qs[j] = static_cast<uint8_t>(j | ((15 - j) << 4));
  float y[256];
  dequantize_row(GgmlType::IQ4_NL, &a, y, 32);
  for (int j = 0; j < 16; ++j) {
    EXPECT_EQ(y[j], 0.5f * kvalues_iq4nl[j]);
    EXPECT_EQ(y[16 + j], 0.5f * kvalues_iq4nl[15 - j]);
  }
  block_iq4_xs b{};
  b.d = f32_to_f16(0.25f);
  int ls[8];  // 6-bit sub-block scales, value ls - 32: low nibble scales_l[ib/2] (ib odd: high), top bits scales_h
  for (int ib = 0; ib < 8; ++ib) ls[ib] = (ib * 19 + 3) % 64;
  for (int ib = 0; ib < 8; ++ib) {
    b.scales_l[ib / 2] |= static_cast<uint8_t>((ls[ib] & 0xF) << (4 * (ib % 2)));
    b.scales_h |= static_cast<uint16_t>((ls[ib] >> 4) << (2 * ib));
  }
  for (int i = 0; i < 128; ++i) b.qs[i] = static_cast<uint8_t>(i * 29 + 1);
  dequantize_row(GgmlType::IQ4_XS, &b, y, 256);
  for (int ib = 0; ib < 8; ++ib) {
    for (int j = 0; j < 16; ++j) {
      const uint8_t q = b.qs[16 * ib + j];
      EXPECT_EQ(y[32 * ib + j], 0.25f * (ls[ib] - 32) * kvalues_iq4nl[q & 0xF]);
      EXPECT_EQ(y[32 * ib + 16 + j], 0.25f * (ls[ib] - 32) * kvalues_iq4nl[q >> 4]);
    }
  }
}

TEST(HandBuilt, Q8_KActivationsWithBsums) {
  std::vector<float> x(256);
  for (int i = 0; i < 256; ++i) x[i] = static_cast<float>(i % 19) - 9.0f + (i == 100 ? -20.0f : 0.0f);
  block_q8_K b{};
  quantize_row_q8_K(x.data(), &b, 256);
  // max |x| is the -24 at i = 100 (100 % 19 - 9 - 20), so d = 24/127 and that element maps to exactly -127.
  EXPECT_FLOAT_EQ(b.d, 24.0f / 127.0f);
  EXPECT_EQ(b.qs[100], -127);
  for (int j = 0; j < 16; ++j) {
    int sum = 0;
    for (int i = 0; i < 16; ++i) sum += b.qs[16 * j + i];
    EXPECT_EQ(b.bsums[j], sum);
  }
  std::vector<float> y(256);
  dequantize_row(GgmlType::Q8_K, &b, y.data(), 256);
  for (int i = 0; i < 256; ++i) EXPECT_NEAR(y[i], x[i], 0.5f * b.d + 1e-6f);
}

TEST(HandBuilt, Q8_1Sum) {
  float x[32];
  for (int j = 0; j < 32; ++j) x[j] = static_cast<float>(j) - 3.0f;
  block_q8_1 b{};
  quantize_row_q8_1(x, &b, 32);
  int sum = 0;
  for (int j = 0; j < 32; ++j) sum += b.qs[j];
  const float d = 28.0f / 127;  // amax / 127, before fp16 rounding
  EXPECT_EQ(b.d, f32_to_f16(d));
  EXPECT_EQ(b.s, f32_to_f16(sum * d));  // s = fp16(sum(qs) * d)
  EXPECT_EQ(b.qs[31], 127);
}

}  // namespace
}  // namespace lp::quant
