// Round-trip error bounds, shape handling, fallback types and the parallel driver.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/ggml_type.h"
#include "quant/metrics.h"
#include "quant/quantize.h"
#include "test_data.h"

namespace lp::quant {
namespace {
using testing::gaussian_matrix;

struct Bound {
  GgmlType type;
  double max_rel_rmse;  // measured on N(0, 0.02^2) 64x1024 (seeds 1..3) + ~12% margin
};

// Measured relative RMSE (identical to ggml's quantizers): f16 0.00021, bf16 0.00167, q8_0 0.00527,
// q6_K 0.0175, q5_K 0.0357, q5_1 0.0375, q5_0 0.0421, q4_K 0.0706, q4_1 0.0775, q4_0 0.0851,
// iq4_nl 0.0755, iq4_xs 0.0761, mxfp4 0.1132, q3_K 0.1498, q2_K 0.2943.
constexpr Bound kBounds[] = {
    {GgmlType::F32, 0.0},      {GgmlType::F16, 0.00025}, {GgmlType::BF16, 0.0019}, {GgmlType::Q8_0, 0.0059},
    {GgmlType::Q6_K, 0.0197},  {GgmlType::Q5_K, 0.040},  {GgmlType::Q5_1, 0.042},  {GgmlType::Q5_0, 0.047},
    {GgmlType::Q4_K, 0.079},   {GgmlType::Q4_1, 0.087},  {GgmlType::Q4_0, 0.095},  {GgmlType::IQ4_NL, 0.084},
    {GgmlType::IQ4_XS, 0.085}, {GgmlType::MXFP4, 0.127}, {GgmlType::Q3_K, 0.168},  {GgmlType::Q2_K, 0.33},
};

TEST(RoundTrip, RelativeRmseWithinPerTypeBound) {
  for (uint64_t seed : {11u, 12u}) {
    const auto x = gaussian_matrix(64, 1024, seed);
    for (const auto& b : kBounds) {
      const QuantError e = measure_quant_error(b.type, x.data(), 64, 1024);
      EXPECT_LE(e.relative_rmse, b.max_rel_rmse) << ggml_type_name(b.type) << " seed " << seed;
      // Scale-invariance sanity: the same data 1000x larger has the same relative error (within 2%).
      std::vector<float> big(x);
      for (auto& v : big) v *= 1000.0f;
      const QuantError eb = measure_quant_error(b.type, big.data(), 64, 1024);
      EXPECT_NEAR(eb.relative_rmse, e.relative_rmse, 0.02 * e.relative_rmse + 1e-7) << ggml_type_name(b.type);
    }
  }
}

TEST(RoundTrip, MoreBitsMeansLessError) {
  const auto x = gaussian_matrix(32, 1024, 5);
  auto err = [&](GgmlType t) { return measure_quant_error(t, x.data(), 32, 1024).relative_rmse; };
  EXPECT_LT(err(GgmlType::Q8_0), err(GgmlType::Q6_K));
  EXPECT_LT(err(GgmlType::Q6_K), err(GgmlType::Q5_K));
  EXPECT_LT(err(GgmlType::Q5_K), err(GgmlType::Q4_K));
  EXPECT_LT(err(GgmlType::Q4_K), err(GgmlType::Q3_K));
  EXPECT_LT(err(GgmlType::Q3_K), err(GgmlType::Q2_K));
  EXPECT_LT(err(GgmlType::Q5_1), err(GgmlType::Q4_1));
  EXPECT_LT(err(GgmlType::Q5_0), err(GgmlType::Q4_0));
  EXPECT_LT(err(GgmlType::IQ4_NL), err(GgmlType::Q4_0));  // the non-linear grid fits Gaussians better
}

TEST(RoundTrip, ZeroRowsStayZero) {
  const std::vector<float> z(2 * 512, 0.0f);
  for (const auto& b : kBounds) {
    std::vector<uint8_t> q(ggml_row_bytes(b.type, 512) * 2);
    quantize(b.type, z.data(), q.data(), 2, 512);
    std::vector<float> back(512, 1.0f);
    dequantize_row(b.type, q.data(), back.data(), 512);
    for (float v : back) ASSERT_EQ(v, 0.0f) << ggml_type_name(b.type);
  }
}

TEST(RoundTrip, ReturnsBytesWrittenAndRowsAreIndependent) {
  const auto x = gaussian_matrix(3, 512, 9);
  for (const auto& b : kBounds) {
    const size_t rb = ggml_row_bytes(b.type, 512);
    std::vector<uint8_t> all(rb * 3), one(rb);
    EXPECT_EQ(quantize(b.type, x.data(), all.data(), 3, 512), rb * 3);
    EXPECT_EQ(quantize(b.type, x.data() + 1024, one.data(), 1, 512), rb);
    EXPECT_EQ(0, std::memcmp(all.data() + 2 * rb, one.data(), rb)) << ggml_type_name(b.type);
  }
}

TEST(Shapes, NonMultipleColumnsThrowNamingNcolsAndBlockSize) {
  const std::vector<float> x(300, 0.5f);
  std::vector<uint8_t> out(4096);
  try {
    quantize(GgmlType::Q4_K, x.data(), out.data(), 1, 300);
    FAIL() << "expected lp::Error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("300"), std::string::npos) << msg;
    EXPECT_NE(msg.find("256"), std::string::npos) << msg;
    EXPECT_NE(msg.find("q4_K"), std::string::npos) << msg;
  }
  EXPECT_THROW(quantize(GgmlType::Q8_0, x.data(), out.data(), 1, 100), Error);
  EXPECT_THROW(quantize_parallel(GgmlType::Q6_K, x.data(), out.data(), 1, 300), Error);
  EXPECT_THROW(dequantize_row(GgmlType::Q8_0, out.data(), std::vector<float>(40).data(), 40), Error);
  EXPECT_NO_THROW(quantize(GgmlType::F16, x.data(), out.data(), 1, 300));  // 1-element blocks fit anything
  EXPECT_THROW(quantize(GgmlType::IQ2_XXS, x.data(), out.data(), 1, 256), Error);  // unsupported type
}

TEST(Shapes, FallbackTypesFollowLlamaCpp) {
  EXPECT_EQ(fallback_type(GgmlType::Q4_K, 4096), GgmlType::Q4_K);  // fits: unchanged
  EXPECT_EQ(fallback_type(GgmlType::Q2_K, 96), GgmlType::Q4_0);
  EXPECT_EQ(fallback_type(GgmlType::Q3_K, 96), GgmlType::Q4_0);
  EXPECT_EQ(fallback_type(GgmlType::Q4_K, 96), GgmlType::Q5_0);
  EXPECT_EQ(fallback_type(GgmlType::Q5_K, 96), GgmlType::Q5_1);
  EXPECT_EQ(fallback_type(GgmlType::Q6_K, 96), GgmlType::Q8_0);
  EXPECT_EQ(fallback_type(GgmlType::IQ4_XS, 96), GgmlType::IQ4_NL);
  EXPECT_EQ(fallback_type(GgmlType::Q4_K, 100), GgmlType::F16);  // 100 % 32 != 0 either
  EXPECT_EQ(fallback_type(GgmlType::Q8_0, 100), GgmlType::F16);
  EXPECT_EQ(fallback_type(GgmlType::MXFP4, 2880), GgmlType::MXFP4);
  EXPECT_EQ(fallback_type(GgmlType::BF16, 7), GgmlType::BF16);
  // Every fallback result must actually be quantizable at that width.
  for (int64_t ncols : {96, 160, 2880, 100, 17}) {
    for (auto t : {GgmlType::Q2_K, GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_XS,
                   GgmlType::Q8_0, GgmlType::Q4_0}) {
      const GgmlType fb = fallback_type(t, ncols);
      EXPECT_EQ(ncols % ggml_traits(fb).block_size, 0) << ggml_type_name(t) << " " << ncols;
    }
  }
}

TEST(Parallel, IdenticalToSerialWithAndWithoutImportance) {
  const auto x = gaussian_matrix(37, 512, 21);
  const auto imp = testing::skewed_importance(512, 3);
  for (const auto& b : kBounds) {
    const size_t rb = ggml_row_bytes(b.type, 512);
    for (const float* w : {static_cast<const float*>(nullptr), imp.data()}) {
      std::vector<uint8_t> s(rb * 37), p(rb * 37, 0xAB);
      quantize(b.type, x.data(), s.data(), 37, 512, w);
      EXPECT_EQ(quantize_parallel(b.type, x.data(), p.data(), 37, 512, w, 2), rb * 37);
      EXPECT_EQ(s, p) << ggml_type_name(b.type);
    }
  }
}

TEST(Parallel, MultiRowDequantizeMatchesRows) {
  const auto x = gaussian_matrix(70, 512, 23);
  for (const auto& b : kBounds) {
    const size_t rb = ggml_row_bytes(b.type, 512);
    std::vector<uint8_t> q(rb * 70);
    quantize(b.type, x.data(), q.data(), 70, 512);
    std::vector<float> all(70 * 512), row(512);
    dequantize(b.type, q.data(), all.data(), 70, 512);
    for (int r = 0; r < 70; r += 23) {
      dequantize_row(b.type, q.data() + r * rb, row.data(), 512);
      EXPECT_EQ(0, std::memcmp(row.data(), all.data() + r * 512, 512 * sizeof(float))) << ggml_type_name(b.type);
    }
  }
}

TEST(Capabilities, Lists) {
  for (const auto& b : kBounds) {
    EXPECT_TRUE(can_quantize(b.type)) << ggml_type_name(b.type);
    EXPECT_TRUE(can_dequantize(b.type)) << ggml_type_name(b.type);
  }
  EXPECT_FALSE(can_quantize(GgmlType::Q8_K));
  EXPECT_TRUE(can_dequantize(GgmlType::Q8_K));
  EXPECT_TRUE(can_dequantize(GgmlType::Q8_1));
  EXPECT_FALSE(can_quantize(GgmlType::TQ1_0));
  EXPECT_TRUE(can_quantize(GgmlType::IQ2_XXS));
  EXPECT_TRUE(uses_importance(GgmlType::Q4_K));
  EXPECT_FALSE(uses_importance(GgmlType::Q8_0));
  EXPECT_FALSE(uses_importance(GgmlType::MXFP4));
}

}  // namespace
}  // namespace lp::quant
