#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
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

// matmul_mlx quantizes x per 32 elements to int8 (d = amax/127), as the GGUF kernels do for their
// activations; the code sums are exact integers. Against the float reference the only error is that
// rounding: |Δy| <= Σ_e |scale_g·q_e|·d_b/2 (plus float summation order). Against the portable integer
// path (same quantized x) only float summation order differs: 1e-5 of the magnitude of the summed terms.
struct Bounds {
  std::vector<double> quant, order;
};

Bounds bounds(const MlxCase& c, const std::vector<float>& x, int64_t rows, int64_t cols, int64_t n_tokens, int bits,
              int group) {
  Bounds b{std::vector<double>(rows * n_tokens), std::vector<double>(rows * n_tokens)};
  const int64_t groups = cols / group;
  for (int64_t t = 0; t < n_tokens; ++t) {
    const float* xt = x.data() + t * cols;
    for (int64_t r = 0; r < rows; ++r) {
      double q = 0, mag = 0;
      for (int64_t g = 0; g < groups; ++g) {
        const double bias = c.biases[r * groups + g], scale = std::fabs(c.scales[r * groups + g]);
        double xs = 0;
        float amax = 0;
        for (int64_t e = g * group; e < (g + 1) * group; ++e) {
          if (e % 32 == 0) {
            amax = 0;
            for (int64_t k = e; k < e + 32; ++k) amax = std::max(amax, std::fabs(xt[k]));
          }
          const double sq = std::fabs(c.dense[r * cols + e] - bias);  // |scale·q|
          q += sq * amax / 254.0;
          mag += (sq + (bits == 8 ? 128 * scale : 0.0)) * std::fabs(xt[e]);
          xs += xt[e];
        }
        mag += std::fabs(bias * xs) + (bits == 8 ? 128 * scale * std::fabs(xs) : 0.0);
      }
      b.order[t * rows + r] = 1e-5 * mag + 1e-6;
      b.quant[t * rows + r] = 1.01 * q + b.order[t * rows + r];
    }
  }
  return b;
}

void expect_within(const std::vector<float>& got, const std::vector<float>& want, const std::vector<double>& bound,
                   const std::string& what) {
  for (size_t i = 0; i < got.size(); ++i) ASSERT_NEAR(got[i], want[i], bound[i]) << what << " i=" << i;
}

// Every bits x group size, 1 token (decode), 3 and 13 tokens (tiles of 8/4 plus a remainder), 37 tokens (two
// 16-token lane tiles on AVX-512 VNNI plus a remainder), 1 and 2 threads.
void check_all_shapes(const std::string& target) {
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    for (int group : {32, 64, 128}) {
      const int64_t rows = 19, cols = 384;
      const auto c = make_case(rows, cols, bits, group, static_cast<uint32_t>(bits * 100 + group));
      for (int64_t n_tokens : {1, 3, 13, 37}) {
        const auto x = test::random_floats(static_cast<size_t>(n_tokens * cols), static_cast<uint32_t>(5 + n_tokens));
        std::vector<float> ref(rows * n_tokens), exact_int(rows * n_tokens);
        matmul_mlx_reference(c.view(bits, group), rows, cols, x.data(), n_tokens, ref.data(), 1);
        detail::matmul_mlx_portable(c.view(bits, group), rows, cols, x.data(), n_tokens, exact_int.data(), 1);
        const auto b = bounds(c, x, rows, cols, n_tokens, bits, group);
        const std::string what = target + " bits=" + std::to_string(bits) + " group=" + std::to_string(group) +
                                 " tokens=" + std::to_string(n_tokens);
        expect_within(exact_int, ref, b.quant, what + " portable vs float reference");
        for (int threads : {1, 2}) {
          std::vector<float> y(rows * n_tokens, -1.0f);
          matmul_mlx(c.view(bits, group), rows, cols, x.data(), n_tokens, y.data(), threads);
          expect_within(y, exact_int, b.order, what + " vs portable integer path");
          expect_within(y, ref, b.quant, what + " vs float reference");
        }
      }
    }
  }
}

TEST(MatmulMlx, MatchesReferenceForAllBitsGroupsAndTokenCounts) { check_all_shapes(active_target()); }

TEST(MatmulMlx, EveryTargetMatchesReference) {
  // Pinned runs (LP_KERNELS_TARGET) leave this test out (tests/CMakeLists.txt): with one target it would repeat the
  // test above. A machine with one target runs that target here.
  for (int64_t target : detail::available_target_bits()) {
    detail::force_target(target);
    check_all_shapes(detail::target_name(target));
  }
  detail::force_target(0);
}

// The float reference itself is the dense dot, and the quantization bound is tight enough to catch a
// misplaced code: reading every block's codes in reverse order moves y far outside it.
TEST(MatmulMlx, BoundCatchesPermutedActivations) {
  const int64_t rows = 8, cols = 256;
  for (int bits : {2, 4, 8}) {
    const auto c = make_case(rows, cols, bits, 64, 91);
    auto x = test::random_floats(static_cast<size_t>(cols), 92);
    std::vector<float> ref(rows), y(rows);
    matmul_mlx_reference(c.view(bits, 64), rows, cols, x.data(), 1, ref.data(), 1);
    for (int64_t r = 0; r < rows; ++r) {
      double s = 0;
      for (int64_t k = 0; k < cols; ++k) s += static_cast<double>(c.dense[r * cols + k]) * x[k];
      EXPECT_NEAR(ref[r], s, 1e-4 * (1 + std::fabs(s)));
    }
    const auto b = bounds(c, x, rows, cols, 1, bits, 64);
    for (int64_t k = 0; k < cols; k += 32) std::reverse(x.begin() + k, x.begin() + k + 32);
    matmul_mlx(c.view(bits, 64), rows, cols, x.data(), 1, y.data(), 1);
    int outside = 0;
    for (int64_t r = 0; r < rows; ++r) outside += std::fabs(y[r] - ref[r]) > b.quant[r];
    EXPECT_GE(outside, rows / 2) << bits << "-bit";
  }
}

// An odd number of 32-blocks per row (no two-block decode vectors) and rows whose last block ends the
// buffer: every bits value against the portable path.
TEST(MatmulMlx, OddBlockCount) {
  const int64_t rows = 7, cols = 96;
  for (int bits : {2, 3, 4, 5, 6, 8}) {
    const auto c = make_case(rows, cols, bits, 32, static_cast<uint32_t>(bits));
    const auto x = test::random_floats(static_cast<size_t>(cols), 3);
    std::vector<float> y(rows), want(rows);
    matmul_mlx(c.view(bits, 32), rows, cols, x.data(), 1, y.data(), 1);
    detail::matmul_mlx_portable(c.view(bits, 32), rows, cols, x.data(), 1, want.data(), 1);
    expect_within(y, want, bounds(c, x, rows, cols, 1, bits, 32).order, std::to_string(bits) + "-bit");
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
