// MLX affine quantization: bit packing, the scale/bias rule, and round trips for every bits x group size.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/fp16.h"
#include "quant/metrics.h"
#include "quant/mlx_affine.h"
#include "test_data.h"

namespace lp::quant {
namespace {

constexpr int kBits[] = {2, 3, 4, 5, 6, 8};
constexpr int kGroups[] = {32, 64, 128};

TEST(MlxAffine, PackUnpackRoundTripEveryBitsAndGroup) {
  for (int bits : kBits) {
    for (int group : kGroups) {
      const int64_t cols = 4 * group;
      std::vector<uint32_t> row(static_cast<size_t>(mlx_packed_cols(cols, bits)), 0);
      ASSERT_EQ(row.size() * 32, static_cast<size_t>(cols * bits));
      std::vector<uint32_t> codes(cols);
      for (int64_t i = 0; i < cols; ++i) codes[i] = static_cast<uint32_t>((i * 2654435761u >> 7) & ((1u << bits) - 1));
      for (int64_t i = 0; i < cols; ++i) mlx_set_code(row.data(), i, bits, codes[i]);
      for (int64_t i = 0; i < cols; ++i) ASSERT_EQ(mlx_get_code(row.data(), i, bits), codes[i]) << bits << "/" << i;
    }
  }
}

TEST(MlxAffine, PinnedBitPositions) {
  // 4-bit: element k of word w at bits 4k (LSB first) -> codes 0..7 give 0x76543210.
  std::vector<uint32_t> w(1, 0);
  for (int i = 0; i < 8; ++i) mlx_set_code(w.data(), i, 4, static_cast<uint32_t>(i));
  EXPECT_EQ(w[0], 0x76543210u);
  // 8-bit: bytes in order.
  std::vector<uint32_t> w8(1, 0);
  for (int i = 0; i < 4; ++i) mlx_set_code(w8.data(), i, 8, static_cast<uint32_t>(0x10 + i));
  EXPECT_EQ(w8[0], 0x13121110u);
  // 2-bit: element k at bits 2k.
  std::vector<uint32_t> w2(1, 0);
  mlx_set_code(w2.data(), 15, 2, 3);
  EXPECT_EQ(w2[0], 0xC0000000u);
  // 3-bit: 32 values in 3 words; element 10 straddles words 0 and 1 (bits 30..32).
  std::vector<uint32_t> w3(3, 0);
  mlx_set_code(w3.data(), 10, 3, 0b101);
  EXPECT_EQ(w3[0], 0x40000000u);  // bit 30 = 1, bit 31 = 0
  EXPECT_EQ(w3[1], 0x1u);         // bit 32 = 1
  // Same as MLX's byte packing: 8 3-bit values in 3 bytes, LSB first (w_out[2] = byte0 bits 6-7 + byte1 bit 0).
  std::vector<uint32_t> b3(3, 0);
  for (int i = 0; i < 8; ++i) mlx_set_code(b3.data(), i, 3, static_cast<uint32_t>(i));
  EXPECT_EQ(b3[0] & 0xFFFFFFu, (0u) | (1u << 3) | (2u << 6) | (3u << 9) | (4u << 12) | (5u << 15) | (6u << 18) | (7u << 21));
  // 5-bit: element 6 straddles bits 30..34.
  std::vector<uint32_t> w5(5, 0);
  mlx_set_code(w5.data(), 6, 5, 0b11011);
  EXPECT_EQ(w5[0], 0xC0000000u);
  EXPECT_EQ(w5[1], 0x6u);
  // 6-bit: element 5 at bits 30..35.
  std::vector<uint32_t> w6(6, 0);
  mlx_set_code(w6.data(), 5, 6, 0b111001);
  EXPECT_EQ(w6[0], 0x40000000u);
  EXPECT_EQ(w6[1], 0xEu);
}

TEST(MlxAffine, ScaleBiasRuleHandWorked) {
  // Group of 32: min -1.0 (largest magnitude), max 0.5; 4 bits -> n_bins 15.
  // scale = 1.5/15 = 0.1, edge = -1, q0 = round(-1/0.1) = -10, scale = -1/-10 = 0.1, bias = -1.
  std::vector<float> w(32, 0.0f);
  w[0] = -1.0f;
  w[1] = 0.5f;
  w[2] = 0.0f;
  w[3] = 0.26f;  // (0.26 + 1)/0.1 = 12.6 -> 13
  std::vector<uint32_t> packed;
  std::vector<float> scales, biases;
  mlx_quantize(w.data(), 1, 32, 4, 32, packed, scales, biases);
  ASSERT_EQ(packed.size(), 4u);
  EXPECT_FLOAT_EQ(scales[0], 0.1f);
  EXPECT_EQ(biases[0], -1.0f);
  EXPECT_EQ(mlx_get_code(packed.data(), 0, 4), 0u);
  EXPECT_EQ(mlx_get_code(packed.data(), 1, 4), 15u);
  EXPECT_EQ(mlx_get_code(packed.data(), 2, 4), 10u);  // zero is exact: -1 + 10*0.1
  EXPECT_EQ(mlx_get_code(packed.data(), 3, 4), 13u);
  // Max dominates: max 2.0, min -1.0 -> scale = -(3/15) = -0.2, edge 2, q0 = -10, scale = 2/-10 = -0.2, bias 2.
  w.assign(32, 0.0f);
  w[0] = 2.0f;
  w[1] = -1.0f;
  mlx_quantize(w.data(), 1, 32, 4, 32, packed, scales, biases);
  EXPECT_FLOAT_EQ(scales[0], -0.2f);
  EXPECT_EQ(biases[0], 2.0f);
  EXPECT_EQ(mlx_get_code(packed.data(), 0, 4), 0u);   // the max is code 0
  EXPECT_EQ(mlx_get_code(packed.data(), 1, 4), 15u);  // (-1 - 2)/-0.2 = 15
  EXPECT_EQ(mlx_get_code(packed.data(), 2, 4), 10u);
}

TEST(MlxAffine, MetalVsCpuVariants) {
  // All-positive group: Metal's w_min starts at +inf but w_max at 0... both see min 1, max 3 here;
  // all-negative: Metal clamps w_max to >= 0, the CPU backend does not.
  std::vector<float> w(32);
  for (int i = 0; i < 32; ++i) w[i] = -1.0f - i / 31.0f;  // [-2, -1]
  std::vector<uint32_t> pm, pc;
  std::vector<float> sm, bm, sc, bc;
  mlx_quantize(w.data(), 1, 32, 4, 32, pm, sm, bm, {MlxBackend::kMetal, MlxParamDtype::kF32});
  mlx_quantize(w.data(), 1, 32, 4, 32, pc, sc, bc, {MlxBackend::kCpu, MlxParamDtype::kF32});
  EXPECT_FLOAT_EQ(sm[0], 2.0f / 15.0f);  // range [-2, 0]
  EXPECT_FLOAT_EQ(sc[0], 1.0f / 15.0f);  // range [-2, -1]
  EXPECT_EQ(bm[0], -2.0f);
  EXPECT_EQ(bc[0], -2.0f);
  // Half-way codes: Metal rounds away from zero, CPU to even. 4 bits, values 0 and 1.5*2/15 ... use
  // group [0, 3] with scale 0.2: 0.5 -> 2.5 steps.
  std::vector<float> t(32, 0.0f);
  t[0] = -3.0f;  // min dominates: scale 0.2, bias -3, zero at code 15
  t[1] = -2.5f;  // (-2.5 + 3)/0.2 = 2.5
  mlx_quantize(t.data(), 1, 32, 4, 32, pm, sm, bm, {MlxBackend::kMetal, MlxParamDtype::kF32});
  mlx_quantize(t.data(), 1, 32, 4, 32, pc, sc, bc, {MlxBackend::kCpu, MlxParamDtype::kF32});
  const float s = sm[0];
  const float steps = (-2.5f - -3.0f) / s;
  if (steps == 2.5f) {  // exact tie in f32
    EXPECT_EQ(mlx_get_code(pm.data(), 1, 4), 3u);
    EXPECT_EQ(mlx_get_code(pc.data(), 1, 4), 2u);
  } else {
    EXPECT_EQ(mlx_get_code(pm.data(), 1, 4), mlx_get_code(pc.data(), 1, 4));
  }
}

TEST(MlxAffine, RoundTripErrorEveryBitsAndGroup) {
  const auto w = testing::gaussian_matrix(8, 512, 17);
  for (int bits : kBits) {
    for (int group : kGroups) {
      std::vector<uint32_t> packed;
      std::vector<float> scales, biases;
      mlx_quantize(w.data(), 8, 512, bits, group, packed, scales, biases,
                   {MlxBackend::kMetal, MlxParamDtype::kBF16});
      ASSERT_EQ(packed.size(), static_cast<size_t>(8 * 512 * bits / 32));
      ASSERT_EQ(scales.size(), static_cast<size_t>(8 * 512 / group));
      for (float s : scales) ASSERT_EQ(s, bf16_to_f32(f32_to_bf16(s)));  // already bf16-representable
      std::vector<float> back(w.size());
      mlx_dequantize(packed.data(), scales.data(), biases.data(), 8, 512, bits, group, back.data());
      // Uniform quantizer over the group range: RMSE ~ range/(2^bits-1)/sqrt(12); the range of a Gaussian
      // group is ~4-6 sigma. Bound per element: half a step plus bf16 scale rounding (range * 2^-8).
      const double rel = relative_rmse(w.data(), back.data(), static_cast<int64_t>(w.size()));
      const double expected = 5.5 / ((1 << bits) - 1) / std::sqrt(12.0);
      EXPECT_LT(rel, 1.3 * expected + 0.01) << bits << " bits, group " << group;
      // Per element: half a step, plus what the edge snapping (scale = edge/round(edge/scale)) leaves
      // uncovered at the far end (clamped codes), plus bf16 rounding of scale and bias.
      const float n_bins = static_cast<float>((1 << bits) - 1);
      for (int64_t r = 0; r < 8; ++r) {
        for (int64_t c = 0; c < 512; ++c) {
          const size_t g = static_cast<size_t>(r * (512 / group) + c / group);
          const float* gw = w.data() + r * 512 + (c / group) * group;
          float lo = gw[0], hi = 0.0f;  // Metal's w_max starts at 0
          for (int j = 0; j < group; ++j) lo = std::min(lo, gw[j]), hi = std::max(hi, gw[j]);
          const float step = std::fabs(scales[g]);
          const float uncovered = std::max(0.0f, (hi - lo) - n_bins * step);
          const float slop = (n_bins * step + std::fabs(biases[g])) / 256.0f;
          ASSERT_LE(std::fabs(back[r * 512 + c] - w[r * 512 + c]), 0.5f * step + uncovered + slop + 1e-6f)
              << bits << "/" << group << " at " << r << "," << c;
        }
      }
    }
  }
}

TEST(MlxAffine, RejectsBadArguments) {
  std::vector<float> w(96, 0.1f);
  std::vector<uint32_t> p;
  std::vector<float> s, b;
  EXPECT_THROW(mlx_quantize(w.data(), 1, 96, 4, 64, p, s, b), Error);  // 96 % 64
  EXPECT_THROW(mlx_quantize(w.data(), 1, 96, 7, 32, p, s, b), Error);
  EXPECT_THROW(mlx_quantize(w.data(), 1, 96, 4, 16, p, s, b), Error);
  EXPECT_NO_THROW(mlx_quantize(w.data(), 1, 96, 3, 32, p, s, b));
}

}  // namespace
}  // namespace lp::quant
