#include "kernels/matmul.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "core/error.h"
#include "kernel_test_util.h"
#include "kernels/activations.h"
#include "kernels/dispatch.h"
#include "kernels/dot_scalar.h"

namespace lp::kernels {
namespace {

using test::all_weight_types;

int64_t test_cols(GgmlType type, int variant) {
  const int64_t block = ggml_traits(type).block_size;
  if (block == 1) return variant == 0 ? 37 : 1024;         // float types: vector tails
  if (block == 32) return variant == 0 ? 96 : 1024;        // 3 blocks: odd tail of the 2-block loop
  return variant == 0 ? 768 : 1024;                        // 3 and 4 super-blocks
}

int64_t act_block(GgmlType type) {
  const GgmlType act = activation_type(type);
  return act == GgmlType::F32 ? 1 : ggml_traits(act).block_size;
}

class MatmulVsReference : public ::testing::TestWithParam<GgmlType> {};

// Dispatch path against dequantize + float dot: every output within the activation-quantization
// bound, and the typical (RMS) error far below it.
TEST_P(MatmulVsReference, WithinActivationQuantizationBound) {
  const GgmlType type = GetParam();
  for (int variant = 0; variant < 2; ++variant) {
    for (bool random_bits : {false, true}) {
      for (int64_t n_tokens : {1, 3, 17}) {
        for (int threads : {1, 2}) {
          const int64_t rows = variant == 0 ? 7 : 33, cols = test_cols(type, variant);
          const uint32_t seed = static_cast<uint32_t>(variant * 1000 + n_tokens * 10 + threads + (random_bits ? 7 : 0));
          const auto W = random_bits ? test::random_blocks(type, rows, cols, seed) : test::quantized_weights(type, rows, cols, seed);
          const auto x = test::random_floats(static_cast<size_t>(n_tokens * cols), seed + 1);
          std::vector<float> y(rows * n_tokens, NAN);
          matmul(type, W.data(), rows, cols, x.data(), n_tokens, y.data(), threads);
          const auto ref = test::reference(type, W, rows, cols, x, n_tokens, act_block(type));
          double err2 = 0, ref2 = 0;
          for (size_t i = 0; i < y.size(); ++i) {
            ASSERT_LE(std::fabs(y[i] - ref.y[i]), ref.bound[i])
                << ggml_type_name(type) << " cols=" << cols << " tokens=" << n_tokens << " threads=" << threads
                << " random_bits=" << random_bits << " i=" << i << " y=" << y[i] << " ref=" << ref.y[i];
            err2 += (y[i] - ref.y[i]) * (y[i] - ref.y[i]);
            ref2 += static_cast<double>(ref.y[i]) * ref.y[i];
          }
          // Rounding x to 8 bits is ~0.4% relative noise per element; the sum averages it down.
          if (act_block(type) > 1) {
            EXPECT_LT(std::sqrt(err2 / ref2), 0.02) << ggml_type_name(type);
          }
        }
      }
    }
  }
}

// The reference path itself against the same bound (it is what the engine's tests fall back to).
TEST_P(MatmulVsReference, ReferenceMatchesDequantizedDot) {
  const GgmlType type = GetParam();
  const int64_t rows = 5, cols = test_cols(type, 0), n_tokens = 3;
  const auto W = test::quantized_weights(type, rows, cols, 42);
  const auto x = test::random_floats(static_cast<size_t>(n_tokens * cols), 43);
  std::vector<float> y(rows * n_tokens);
  matmul_reference(type, W.data(), rows, cols, x.data(), n_tokens, y.data(), 2);
  const auto ref = test::reference(type, W, rows, cols, x, n_tokens, 1);
  for (size_t i = 0; i < y.size(); ++i) EXPECT_NEAR(y[i], ref.y[i], 1e-5 * (1 + std::fabs(ref.y[i])));
}

INSTANTIATE_TEST_SUITE_P(AllTypes, MatmulVsReference, ::testing::ValuesIn(all_weight_types()),
                         [](const auto& info) { return std::string(ggml_type_name(info.param)); });

// Every compiled SIMD target against the portable integer kernels on identical quantized
// activations: only float summation order differs, so the tolerance is tight.
TEST(MatmulTargets, EveryTargetMatchesScalarIntegerKernels) {
  const auto targets = detail::available_target_bits();
  ASSERT_FALSE(targets.empty());
  bool saw_avx2 = false, saw_scalar = false;
  for (int64_t target : targets) {
    detail::force_target(target);
    const std::string name = detail::target_name(target);
    ASSERT_EQ(active_target(), name);
    saw_avx2 |= name == "AVX2";
    saw_scalar |= name == "SCALAR" || name == "EMU128";
    for (GgmlType type : all_weight_types()) {
      for (int variant = 0; variant < 2; ++variant) {
        const int64_t rows = 9, cols = test_cols(type, variant), n_tokens = 5;  // 4-token kernels + tail
        const auto W = test::random_blocks(type, rows, cols, 7 + variant);
        const auto x = test::random_floats(static_cast<size_t>(n_tokens * cols), 8 + variant);
        std::vector<float> y(rows * n_tokens);
        matmul(type, W.data(), rows, cols, x.data(), n_tokens, y.data(), 1);
        // Scalar integer path by hand.
        const GgmlType act = activation_type(type);
        const RowDotFn dot = scalar_row_dot(type);
        const size_t wrb = ggml_row_bytes(type, cols);
        for (int64_t t = 0; t < n_tokens; ++t) {
          std::vector<uint8_t> xq;
          const void* xp = x.data() + t * cols;
          if (act != GgmlType::F32) {
            xq.resize(ggml_row_bytes(act, cols));
            if (act == GgmlType::Q8_0) quantize_row_q8_0_scalar(x.data() + t * cols, xq.data(), cols);
            if (act == GgmlType::Q8_1) quantize_row_q8_1_scalar(x.data() + t * cols, xq.data(), cols);
            if (act == GgmlType::Q8_K) quantize_row_q8_K_scalar(x.data() + t * cols, xq.data(), cols);
            xp = xq.data();
          }
          for (int64_t r = 0; r < rows; ++r) {
            const float want = dot(W.data() + r * wrb, xp, cols);
            const float got = y[t * rows + r];
            EXPECT_NEAR(got, want, 2e-5 * (1 + std::fabs(want)))
                << name << " " << ggml_type_name(type) << " cols=" << cols << " r=" << r << " t=" << t;
          }
        }
      }
    }
  }
  detail::force_target(0);
  if (detail::env_forced_target() != 0) return;  // pinned to one target (tests/CMakeLists.txt `targets.*`)
  EXPECT_TRUE(saw_scalar) << "the portable fallback target was not compiled";
  if (__builtin_cpu_supports("avx2")) {
    EXPECT_TRUE(saw_avx2);
  }
}

// SIMD activation quantizers produce the same bytes as the scalar ones on every target.
TEST(MatmulTargets, ActivationQuantizationIsBitIdenticalAcrossTargets) {
  const int64_t n = 1024;
  auto x = test::random_floats(n, 99, 3.0f);
  for (int i = 0; i < 32; ++i) x[i] = 0.0f;  // an all-zero block
  x[300] = 1e-30f;
  for (GgmlType act : {GgmlType::Q8_0, GgmlType::Q8_1, GgmlType::Q8_K}) {
    std::vector<uint8_t> want(ggml_row_bytes(act, n)), got(want.size());
    if (act == GgmlType::Q8_0) quantize_row_q8_0_scalar(x.data(), want.data(), n);
    if (act == GgmlType::Q8_1) quantize_row_q8_1_scalar(x.data(), want.data(), n);
    if (act == GgmlType::Q8_K) quantize_row_q8_K_scalar(x.data(), want.data(), n);
    for (int64_t target : detail::available_target_bits()) {
      detail::force_target(target);
      quantize_activations(act, x.data(), got.data(), n);
      EXPECT_EQ(got, want) << ggml_type_name(act) << " on " << detail::target_name(target);
    }
    detail::force_target(0);
  }
}

TEST(Matmul, RejectsUnsupportedTypeAndBadColumns) {
  std::vector<uint8_t> W(1024);
  std::vector<float> x(256), y(4);
  EXPECT_THROW(matmul(GgmlType::TQ1_0, W.data(), 1, 256, x.data(), 1, y.data()), lp::Error);
  EXPECT_THROW(matmul(GgmlType::Q4_K, W.data(), 1, 128, x.data(), 1, y.data()), lp::Error);
  EXPECT_THROW(matmul(GgmlType::Q8_0, W.data(), 1, 33, x.data(), 1, y.data()), lp::Error);
  EXPECT_FALSE(matmul_supported(GgmlType::TQ1_0));
  EXPECT_TRUE(matmul_supported(GgmlType::IQ2_XXS));
  EXPECT_TRUE(matmul_supported(GgmlType::Q4_K));
}

// A slice of rows written into a wider output (the engine's row-range matmul) equals the matching
// columns of the full product and leaves the other columns alone.
TEST(Matmul, StridedOutputMatchesFullProduct) {
  for (GgmlType type : {GgmlType::Q8_0, GgmlType::Q4_K, GgmlType::Q6_K, GgmlType::F16}) {
    const int64_t rows = 40, cols = 512, n_tokens = 6, r0 = 9, r1 = 30;
    const auto W = test::quantized_weights(type, rows, cols, 3);
    const auto x = test::random_floats(static_cast<size_t>(n_tokens * cols), 4);
    std::vector<float> full(rows * n_tokens), part(rows * n_tokens, -7.0f);
    matmul(type, W.data(), rows, cols, x.data(), n_tokens, full.data(), 2);
    matmul_strided(type, W.data() + r0 * ggml_row_bytes(type, cols), r1 - r0, cols, x.data(), n_tokens, part.data() + r0,
                   rows, 2);
    for (int64_t t = 0; t < n_tokens; ++t) {
      for (int64_t r = 0; r < rows; ++r) {
        const float want = (r >= r0 && r < r1) ? full[t * rows + r] : -7.0f;
        ASSERT_EQ(part[t * rows + r], want) << ggml_type_name(type) << " t=" << t << " r=" << r;
      }
    }
  }
  std::vector<float> x(64), y(4);
  std::vector<uint8_t> W(ggml_row_bytes(GgmlType::Q8_0, 64) * 4);
  EXPECT_THROW(matmul_strided(GgmlType::Q8_0, W.data(), 4, 64, x.data(), 1, y.data(), 3), lp::Error);
}

TEST(Matmul, ZeroRowsOrTokensIsANoOp) {
  std::vector<uint8_t> W(ggml_row_bytes(GgmlType::Q8_0, 64));
  std::vector<float> x(64, 1.0f), y(1, 5.0f);
  matmul(GgmlType::Q8_0, W.data(), 0, 64, x.data(), 1, y.data());
  matmul(GgmlType::Q8_0, W.data(), 1, 64, x.data(), 0, y.data());
  EXPECT_EQ(y[0], 5.0f);
}

TEST(Matmul, ReportsTargets) {
  const auto targets = available_targets();
  ASSERT_FALSE(targets.empty());
  EXPECT_EQ(active_target(), targets.front());
}

}  // namespace
}  // namespace lp::kernels
