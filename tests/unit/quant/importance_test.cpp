// Importance (imatrix) weighting must cut the importance-weighted error, which is what matters for the
// layer output, at the cost of a bit more plain error.
#include <gtest/gtest.h>

#include <vector>

#include "quant/metrics.h"
#include "quant/quantize.h"
#include "test_data.h"

namespace lp::quant {
namespace {

std::vector<float> roundtrip(GgmlType t, const std::vector<float>& x, int64_t rows, int64_t cols, const float* imp) {
  const size_t rb = ggml_row_bytes(t, cols);
  std::vector<uint8_t> q(rb * rows);
  quantize(t, x.data(), q.data(), rows, cols, imp);
  std::vector<float> back(x.size());
  for (int64_t r = 0; r < rows; ++r) dequantize_row(t, q.data() + r * rb, back.data() + r * cols, cols);
  return back;
}

TEST(Importance, WeightedErrorDropsOnSkewedImportance) {
  constexpr int64_t rows = 64, cols = 1024;
  // Measured weighted-MSE ratios (with / without imatrix) on this kind of data: 0.04 (q5_1) .. 0.35 (q4_0).
  for (uint64_t seed : {31u, 32u}) {
    const auto x = testing::gaussian_matrix(rows, cols, seed);
    const auto imp = testing::skewed_importance(cols, seed + 7);
    for (GgmlType t : {GgmlType::Q4_0, GgmlType::Q4_1, GgmlType::Q5_0, GgmlType::Q5_1, GgmlType::Q2_K,
                       GgmlType::Q3_K, GgmlType::Q4_K, GgmlType::Q5_K, GgmlType::Q6_K, GgmlType::IQ4_NL,
                       GgmlType::IQ4_XS}) {
      ASSERT_TRUE(uses_importance(t));
      const auto plain = roundtrip(t, x, rows, cols, nullptr);
      const auto weighted = roundtrip(t, x, rows, cols, imp.data());
      const double e_plain = weighted_mse(x.data(), plain.data(), rows, cols, imp.data());
      const double e_weighted = weighted_mse(x.data(), weighted.data(), rows, cols, imp.data());
      EXPECT_LT(e_weighted, 0.5 * e_plain) << ggml_type_name(t) << " seed " << seed;
    }
  }
}

TEST(Importance, IgnoredWhereGgmlIgnoresIt) {
  const auto x = testing::gaussian_matrix(4, 512, 3);
  const auto imp = testing::skewed_importance(512, 4);
  for (GgmlType t : {GgmlType::F16, GgmlType::BF16, GgmlType::Q8_0, GgmlType::MXFP4}) {
    EXPECT_EQ(roundtrip(t, x, 4, 512, nullptr), roundtrip(t, x, 4, 512, imp.data())) << ggml_type_name(t);
  }
}

TEST(Importance, UniformImportanceStillValid) {
  // A flat imatrix takes ggml's weighted code path; it must stay within the unweighted error ballpark.
  const auto x = testing::gaussian_matrix(16, 1024, 8);
  const std::vector<float> flat(1024, 1.0f);
  for (GgmlType t : {GgmlType::Q4_K, GgmlType::Q2_K, GgmlType::Q6_K, GgmlType::IQ4_XS, GgmlType::Q4_0}) {
    const auto a = roundtrip(t, x, 16, 1024, nullptr);
    const auto b = roundtrip(t, x, 16, 1024, flat.data());
    EXPECT_LT(relative_rmse(x.data(), b.data(), 16 * 1024), 1.15 * relative_rmse(x.data(), a.data(), 16 * 1024))
        << ggml_type_name(t);
  }
}

}  // namespace
}  // namespace lp::quant
