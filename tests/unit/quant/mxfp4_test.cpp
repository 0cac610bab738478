// MXFP4: checkpoint (GPT-OSS *_blocks/*_scales) layout vs ggml block_mxfp4 layout, and quantization.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "quant/mxfp4.h"
#include "quant/quantize.h"
#include "quant/rows.h"
#include "test_data.h"

namespace lp::quant {
namespace {

TEST(Mxfp4, E2M1Table) {
  const float want[16] = {0, 0.5f, 1, 1.5f, 2, 3, 4, 6, -0.0f, -0.5f, -1, -1.5f, -2, -3, -4, -6};
  for (int c = 0; c < 16; ++c) {
    EXPECT_EQ(e2m1_to_f32(static_cast<uint8_t>(c)), want[c]) << c;
    EXPECT_EQ(kvalues_mxfp4[c], 2 * want[c]) << c;  // ggml's doubled table
  }
}

TEST(Mxfp4, CheckpointToGgmlThenDequantEqualsDirectDecode) {
  constexpr int64_t ncols = 2880;  // GPT-OSS hidden size: 90 groups
  testing::Rng rng(5);
  std::vector<uint8_t> blocks(ncols / 2), scales(ncols / 32);
  for (auto& b : blocks) b = static_cast<uint8_t>(rng.next() >> 56);
  for (auto& s : scales) s = static_cast<uint8_t>(110 + (rng.next() >> 60));  // 2^-17 .. 2^-2
  std::vector<block_mxfp4> ggml(ncols / 32);
  mxfp4_from_checkpoint(blocks.data(), scales.data(), ncols, ggml.data());
  std::vector<float> via_ggml(ncols), direct(ncols);
  dequantize_row(GgmlType::MXFP4, ggml.data(), via_ggml.data(), ncols);
  mxfp4_checkpoint_dequantize(blocks.data(), scales.data(), ncols, direct.data());
  for (int64_t i = 0; i < ncols; ++i) ASSERT_EQ(via_ggml[i], direct[i]) << i;
  // And back: the conversion only moves nibbles.
  std::vector<uint8_t> blocks2(ncols / 2), scales2(ncols / 32);
  mxfp4_to_checkpoint(ggml.data(), ncols, blocks2.data(), scales2.data());
  EXPECT_EQ(blocks, blocks2);
  EXPECT_EQ(scales, scales2);
}

TEST(Mxfp4, PinnedNibblePositions) {
  // Checkpoint group: byte k = element 2k (low) | element 2k+1 (high). Put code c_i = i % 16.
  uint8_t blocks[16], scale = 127;  // factor 1
  for (int k = 0; k < 16; ++k) blocks[k] = static_cast<uint8_t>(((2 * k) % 16) | (((2 * k + 1) % 16) << 4));
  block_mxfp4 g{};
  mxfp4_from_checkpoint(blocks, &scale, 32, &g);
  EXPECT_EQ(g.e, 127);
  // ggml: qs[j] = element j (low) | element j+16 (high); codes i % 16 give j | (j << 4).
  for (int j = 0; j < 16; ++j) EXPECT_EQ(g.qs[j], j | (j << 4)) << j;
  float y[32];
  dequantize_row_mxfp4(&g, y, 32);
  EXPECT_EQ(y[7], 6.0f);
  EXPECT_EQ(y[15], -6.0f);
  EXPECT_EQ(y[16 + 5], 3.0f);
}

TEST(Mxfp4, QuantizeFromFloat) {
  // Exactly representable: every value is an E2M1 value times 2^-3, max |x| = 6 * 2^-3 -> e = 127 - 3.
  float x[32];
  for (int i = 0; i < 32; ++i) x[i] = e2m1_to_f32(static_cast<uint8_t>((i * 7) % 16)) * 0.125f;
  x[3] = 0.75f;  // 6 * 0.125
  block_mxfp4 b{};
  quantize(GgmlType::MXFP4, x, &b, 1, 32);
  EXPECT_EQ(b.e, 124);
  float y[32];
  dequantize_row(GgmlType::MXFP4, &b, y, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(y[i], x[i] == 0 ? 0.0f : x[i]) << i;
  // Gaussian data. ggml picks s = 2^(floor(log2 amax) - 2), so amax/s is in [4, 8) while the largest
  // E2M1 value is 6: values above 6s saturate (error < 2s); below, half the widest spacing (2s) is s.
  const auto g = testing::gaussian_matrix(1, 1024, 3, 1.0f);
  std::vector<block_mxfp4> q(32);
  quantize(GgmlType::MXFP4, g.data(), q.data(), 1, 1024);
  std::vector<float> back(1024);
  dequantize_row(GgmlType::MXFP4, q.data(), back.data(), 1024);
  for (int i = 0; i < 1024; ++i) {
    const float s = std::ldexp(1.0f, q[i / 32].e - 127);
    EXPECT_LE(std::fabs(back[i] - g[i]), std::fabs(g[i]) <= 6 * s ? s : 2 * s) << i;
  }
}

TEST(Mxfp4, TinyBlocksGetTheSmallestExponentInsteadOfWrapping) {
  // floor(log2(1e-40)) - 2 + 127 < 0: ggml's unchecked uint8 cast would wrap; we clamp to e = 0.
  std::vector<float> x(32, 1e-40f);
  block_mxfp4 b{};
  quantize(GgmlType::MXFP4, x.data(), &b, 1, 32);
  EXPECT_EQ(b.e, 0);
  float y[32];
  dequantize_row(GgmlType::MXFP4, &b, y, 32);
  for (float v : y) EXPECT_LE(std::fabs(v), 1e-38f);
}

}  // namespace
}  // namespace lp::quant
