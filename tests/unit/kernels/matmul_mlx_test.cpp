#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "core/error.h"
#include "kernel_test_util.h"
#include "kernels/dispatch.h"
#include "kernels/matmul.h"
#include "quant/mlx_affine.h"

namespace lp::kernels {
namespace {

struct MlxCase {
  std::vector<uint32_t> packed;
  std::vector<float> scales, biases, dense;
  MlxWeights view(int bits, int group) const { return {packed.data(), scales.data(), biases.data(), bits, group}; }
};

MlxCase make_case(int64_t rows, int64_t cols, int bits, int group, uint32_t seed) {
  MlxCase c;
  const auto w = test::random_floats(static_cast<size_t>(rows * cols), seed, 0.05f);
  quant::mlx_quantize(w.data(), rows, cols, bits, group, c.packed, c.scales, c.biases);
  c.dense.resize(w.size());
  quant::mlx_dequantize(c.packed.data(), c.scales.data(), c.biases.data(), rows, cols, bits, group, c.dense.data());
  return c;
}

// No activation quantization here: fast and reference paths differ only in float summation order.
void expect_close(const std::vector<float>& got, const std::vector<float>& want, const MlxCase& c, const std::vector<float>& x,
                  int64_t rows, int64_t cols, const char* what) {
  for (size_t i = 0; i < got.size(); ++i) {
    const int64_t t = static_cast<int64_t>(i) / rows, r = static_cast<int64_t>(i) % rows;
    double mag = 0;
    for (int64_t k = 0; k < cols; ++k) mag += std::fabs(c.dense[r * cols + k] * x[t * cols + k]);
    ASSERT_NEAR(got[i], want[i], 1e-5 * mag + 1e-6) << what << " i=" << i;
  }
}

TEST(MatmulMlx, MatchesDequantizedReferenceForAllBitsAndGroups) {
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    for (int group : {32, 64, 128}) {
      for (int64_t n_tokens : {1, 3}) {
        for (int threads : {1, 2}) {
          const int64_t rows = 19, cols = 384;
          const auto c = make_case(rows, cols, bits, group, static_cast<uint32_t>(bits * 100 + group));
          const auto x = test::random_floats(static_cast<size_t>(n_tokens * cols), 5);
          std::vector<float> y(rows * n_tokens), ref(rows * n_tokens);
          matmul_mlx(c.view(bits, group), rows, cols, x.data(), n_tokens, y.data(), threads);
          matmul_mlx_reference(c.view(bits, group), rows, cols, x.data(), n_tokens, ref.data(), 1);
          const std::string what = "bits=" + std::to_string(bits) + " group=" + std::to_string(group);
          expect_close(y, ref, c, x, rows, cols, what.c_str());
          // The reference itself is the dense dot.
          for (int64_t t = 0; t < n_tokens; ++t) {
            double s = 0;
            for (int64_t k = 0; k < cols; ++k) s += static_cast<double>(c.dense[k]) * x[t * cols + k];
            EXPECT_NEAR(ref[t * rows], s, 1e-4 * (1 + std::fabs(s)));
          }
        }
      }
    }
  }
}

TEST(MatmulMlx, EveryTargetMatchesReference) {
  const int64_t rows = 5, cols = 256;
  for (int bits : {4, 8}) {
    const auto c = make_case(rows, cols, bits, 64, 77);
    const auto x = test::random_floats(static_cast<size_t>(cols), 78);
    std::vector<float> ref(rows), y(rows);
    matmul_mlx_reference(c.view(bits, 64), rows, cols, x.data(), 1, ref.data(), 1);
    for (int64_t target : detail::available_target_bits()) {
      detail::force_target(target);
      matmul_mlx(c.view(bits, 64), rows, cols, x.data(), 1, y.data(), 1);
      expect_close(y, ref, c, x, rows, cols, detail::target_name(target));
    }
    detail::force_target(0);
  }
}

TEST(MatmulMlx, RejectsBadShapes) {
  const auto c = make_case(2, 64, 4, 64, 1);
  std::vector<float> x(64), y(2);
  EXPECT_THROW(matmul_mlx(c.view(7, 64), 2, 64, x.data(), 1, y.data()), lp::Error);
  EXPECT_THROW(matmul_mlx(c.view(4, 48), 2, 64, x.data(), 1, y.data()), lp::Error);
  EXPECT_THROW(matmul_mlx(c.view(4, 64), 2, 96, x.data(), 1, y.data()), lp::Error);
}

}  // namespace
}  // namespace lp::kernels
